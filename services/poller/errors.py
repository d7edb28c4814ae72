"""Why a poll failed, as a small tree; the class name is what ``source.polled`` records.

::

    PollError                 a poll that produced no usable document
    +-- FetchError            getting the bytes failed
    |   +-- DnsError          the host name does not resolve
    |   +-- TlsError          the TLS handshake or certificate failed
    |   +-- ConnectError      refused, unreachable, reset (retried)
    |   +-- FetchTimeout      connect, read or total time exceeded (retried)
    |   +-- TooManyRedirects  a redirect loop or chain beyond the cap
    |   +-- AddressRefused    a public source leading to an internal address (addresses.py)
    |   +-- ResponseTooLarge  more bytes than the size cap (stream cut there)
    |   +-- HttpStatusError   4xx / 5xx (5xx and 429 retried first)
    |   +-- LocalFileError    a file:// or path source that cannot be read
    +-- ParseError            the bytes are not what the source's kind expects
        +-- EmptyDocument     zero bytes (or only whitespace)
        +-- NotAFeed          HTML or something else where a feed was expected
        +-- ParserCrashed     the parser process died on the document (twice)

``retryable`` marks the kinds worth another attempt within the same poll. httpx's own
exceptions are translated in one place (``fetch.translate``), never leaked to callers.
"""

from __future__ import annotations


class PollError(Exception):
    retryable = False

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status

    @property
    def error_class(self) -> str:
        return type(self).__name__

    def __reduce__(self) -> tuple[object, ...]:
        # parsers run in worker processes: their errors must cross back whole (the default
        # pickling calls ``cls(*args)`` and would lose, or choke on, keyword-only state)
        return (_restore, (type(self), str(self), dict(self.__dict__)))


def _restore(cls: type[PollError], message: str, state: dict[str, object]) -> PollError:
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    exc.__dict__.update(state)
    return exc


class FetchError(PollError):
    pass


class DnsError(FetchError):
    pass


class TlsError(FetchError):
    pass


class ConnectError(FetchError):
    retryable = True


class FetchTimeout(FetchError):
    retryable = True


class TooManyRedirects(FetchError):
    pass


class AddressRefused(FetchError):
    pass


class ResponseTooLarge(FetchError):
    pass


class LocalFileError(FetchError):
    pass


class HttpStatusError(FetchError):
    """An HTTP error status. ``retry_after_s`` is set from a 429/503 Retry-After header."""

    def __init__(
        self, message: str, *, http_status: int, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, http_status=http_status)
        self.retry_after_s = retry_after_s

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.http_status is not None and (self.http_status >= 500 or self.http_status == 429)


class ParseError(PollError):
    pass


class EmptyDocument(ParseError):
    pass


class NotAFeed(ParseError):
    pass


class ParserCrashed(ParseError):
    pass
