"""Where a subscription defined through the API may deliver: not into the internal network.

Why: the API refuses a channel URL whose host is or resolves to an internal address
(``services/api/urls.py``), but it accepts a name that does not resolve yet, and a name's
answer can change after it was checked. Without a check at delivery, whoever may write
subscriptions could have the notifier POST alerts to the cloud's metadata service or an
internal API, and read the start of its answer in ``alert.delivery_failed``. So the
channel of a subscription from the log is checked again before each send (a lookup per
host and minute): an internal host is refused for good (not retried). A name whose answer
changes between this lookup and the connection's (DNS rebinding) is caught on the socket:
the sender under the guard checks each connection's peer (``runtime.egress``), and its
``InternalPeer`` is refused here in the same words.

The config file's subscriptions are the operator's own and go anywhere, and so do the
API's when ``api.allow_private_urls`` is on, unless a subscription asks for public hosts
only (``block_private`` on an HTTP channel): that one is guarded wherever it came from.
"""

from __future__ import annotations

from typing import NoReturn
from urllib.parse import urlsplit

from services.alerting.subscriptions import ChannelConfig, EmailChannel, TelegramChannel
from services.notifier.channels.base import Channel, DeliveryError, Outgoing
from services.runtime.addresses import InternalHosts
from services.runtime.egress import InternalPeer
from services.runtime.redact import origin

__all__ = ["GuardedChannel", "destination"]


def destination(config: ChannelConfig) -> tuple[str, str]:
    """The host a channel connects to, and how an error names it (never a URL's path)."""
    if isinstance(config, EmailChannel):
        return config.host, f"smtp {config.host}:{config.port}"
    url = config.api_url if isinstance(config, TelegramChannel) else getattr(config, "url", "")
    return urlsplit(url).hostname or "", origin(url)


#: why a subscription is guarded, as its refusals say
THROUGH_THE_API = "the subscription came through the API (api.allow_private_urls is off)"
PUBLIC_ONLY = "the subscription asks for public hosts only (block_private)"


class GuardedChannel:
    """A channel whose host is checked before each send; ``because`` says why it is."""

    def __init__(
        self,
        inner: Channel,
        config: ChannelConfig,
        hosts: InternalHosts,
        because: str = THROUGH_THE_API,
    ) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.host, self.where = destination(config)
        self.hosts = hosts
        self.because = because

    def send(self, message: Outgoing) -> int | None:
        address = self.hosts.internal(self.host)
        if address is not None:
            self._refuse(f"{self.host} is or resolves to {address}")
        try:
            return self.inner.send(message)
        except InternalPeer as exc:  # the lookup said public; the connection did not
            self._refuse(f"{self.host} looked public but {exc.address} answered")

    def _refuse(self, why: str) -> NoReturn:
        raise DeliveryError(
            f"{self.kind} {self.where}: refused: {why}, an internal address, and {self.because}",
            retryable=False,
        ) from None

    def close(self) -> None:
        self.inner.close()
