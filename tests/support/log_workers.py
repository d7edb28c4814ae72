"""Worker processes for the tests that need more than one process on one SQLite log.

python log_workers.py copy URL IN OUT GROUP [DELAY_MS]
                                              consume IN through the runtime loop, write
                                              one derived event per input to OUT (taking
                                              DELAY_MS per record); when it starts writing
                                              a batch's offsets (its outputs are appended
                                              by then), print "committing" and pause 30 ms:
                                              the moment a crash test kills it; print
                                              "idle" when done
python log_workers.py write URL TOPIC NAME N  append N records keyed NAME-k, in batches
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from schemas import CloudEvent, SourcePolled, new_event
from services.eventlog import Message, Record, open_log
from services.runtime.loop import ConsumerLoop, Emit, LoopSettings


def copy(url: str, source: str, sink: str, group: str, delay_ms: str = "0") -> None:
    log = open_log(url)
    delay = float(delay_ms) / 1000

    def handler(event: CloudEvent, record: Record) -> Iterable[Emit]:
        time.sleep(delay)
        assert isinstance(event.data, SourcePolled)
        derived = event.data.model_copy(update={"source_id": event.data.source_id + "-copied"})
        out = new_event(derived, id=f"copy-{event.id}", source="/test/copy", time=datetime.now(UTC))
        return [Emit(sink, event.data.source_id, out)]

    loop = ConsumerLoop(
        log,
        group=group,
        topics=[source],
        handler=handler,
        deadletter_topic=sink,
        settings=LoopSettings(batch_size=25, poll_timeout_s=0.2),
    )

    def pause_before_offsets(statement: str) -> None:
        # SQLite calls this as each statement starts; sleeping here holds the statement.
        if statement.lstrip().upper().startswith("INSERT INTO GROUP_OFFSETS"):
            print("committing", flush=True)
            time.sleep(0.03)

    loop.consumer._db.conn.set_trace_callback(pause_before_offsets)  # type: ignore[attr-defined]
    loop.run_until_idle(idle_polls=3)
    print("idle", flush=True)
    loop.close()
    log.close()


def write(url: str, topic: str, name: str, count: int) -> None:
    log = open_log(url)
    for start in range(0, count, 50):
        log.append(
            [
                Message(topic, f"{name}:{i}".encode(), key=f"{name}-{i % 7}".encode())
                for i in range(start, min(count, start + 50))
            ]
        )
    log.close()


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "copy":
        copy(*args)
    elif command == "write":
        write(args[0], args[1], args[2], int(args[3]))
    else:
        raise SystemExit(f"unknown command {command}")
