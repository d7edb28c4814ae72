"""Email over SMTP with the standard library: a plain-text and an HTML part (every value
escaped), STARTTLS or implicit TLS, optional login. One message per alert or per digest.

The ``Message-ID`` is derived from the idempotency key, so a mail system (or a person's
filter) can recognise a redelivered message; ``Tocsin-Idempotency-Key`` carries it too.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from services.alerting.subscriptions import EmailChannel
from services.notifier.channels.base import DeliveryError, Outgoing
from services.notifier.channels.render import as_html, as_text, subject
from services.runtime.egress import check_socket

__all__ = ["EmailSender", "build_message"]


def build_message(message: Outgoing, config: EmailChannel) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = subject(message)
    mail["From"] = config.sender
    mail["To"] = ", ".join(config.to)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = f"<{message.idempotency_key}@tocsin.invalid>"
    mail["Tocsin-Idempotency-Key"] = message.idempotency_key
    mail.set_content(as_text(message))
    mail.add_alternative(as_html(message), subtype="html")
    return mail


class _CheckedSMTP(smtplib.SMTP):
    """Checks the connection's peer before the server's greeting is read (``egress``).
    ``_get_socket`` is smtplib's hook for making the connection (typeshed leaves it out)."""

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        check_socket(sock, host, port)
        return sock


class _CheckedSMTPSSL(smtplib.SMTP_SSL):
    """``_CheckedSMTP`` for implicit TLS: checked once the TLS handshake is done, before
    the greeting (nothing of the mail has been sent)."""

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        check_socket(sock, host, port)
        return sock


class EmailSender:
    kind = "email"

    def __init__(self, config: EmailChannel, timeout_s: float, checked: bool = False) -> None:
        self.config = config
        self.timeout_s = timeout_s
        #: a subscription made through the API: the connection's peer is checked
        self._smtp, self._smtp_ssl = (
            (_CheckedSMTP, _CheckedSMTPSSL) if checked else (smtplib.SMTP, smtplib.SMTP_SSL)
        )

    def send(self, message: Outgoing) -> int | None:
        cfg = self.config
        mail = build_message(message, cfg)
        where = f"smtp {cfg.host}:{cfg.port}"
        try:
            smtp: smtplib.SMTP
            if cfg.security == "ssl":
                smtp = self._smtp_ssl(
                    cfg.host, cfg.port, timeout=self.timeout_s, context=ssl.create_default_context()
                )
            else:
                smtp = self._smtp(cfg.host, cfg.port, timeout=self.timeout_s)
            with smtp:
                if cfg.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if cfg.username is not None and cfg.password is not None:
                    smtp.login(cfg.username, cfg.password.get_secret_value())
                refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                f"{where}: every recipient refused ({', '.join(exc.recipients)})", retryable=False
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"{where}: login refused ({exc.smtp_code})",
                retryable=False,
                status_code=exc.smtp_code,
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"{where}: {exc.smtp_code} {exc.smtp_error!r}",
                retryable=400 <= exc.smtp_code < 500,
                status_code=exc.smtp_code,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}", retryable=True) from None
        # Some recipients refused (``refused`` non-empty) but others took it: not retried, the
        # others would get it twice.
        del refused
        return 250

    def close(self) -> None:
        pass
