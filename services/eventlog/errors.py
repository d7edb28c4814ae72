"""The event log's errors: a small tree, translated from each driver's at one boundary.

::

    EventLogError
    ├── RetryableError        transport trouble: broker unreachable, timeout, database busy.
    │   │                     Back off and try the same operation again.
    │   └── UnavailableError  the log's servers cannot be reached at all (a broker outage):
    │                         a service starting during one waits for them (``startup_wait_s``).
    ├── RebalanceError        the group moved a partition away from this consumer before it
    │                         committed. Drop the batch (nothing of it was committed) and poll again.
    ├── PoisonRecordError     one record cannot be decoded or validated. Never retry it: send it
    │                         to the dead-letter topic with the reason and go on.
    └── FatalError            bad configuration or misuse: unknown URL scheme, unknown topic,
                              unreadable database. Retrying will not help; report and stop.
        └── UnknownTopicError

Backends raise only these (and ``ValueError`` for arguments that break the interface's
preconditions), so the runtime decides retry / dead-letter / stop from the class alone.
"""

from __future__ import annotations


class EventLogError(Exception):
    """Base of every error the event log raises."""


class RetryableError(EventLogError):
    """A transient failure; the same call may succeed later."""


class UnavailableError(RetryableError):
    """The log's servers cannot be reached (as opposed to a local, e.g. disk, failure)."""


class RebalanceError(EventLogError):
    """This consumer no longer owns a partition it tried to commit."""


class PoisonRecordError(EventLogError):
    """A record that no amount of retrying will make readable."""


class FatalError(EventLogError):
    """A configuration or usage error."""


class UnknownTopicError(FatalError):
    """The topic does not exist on this log (topics are created explicitly)."""
