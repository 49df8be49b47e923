"""``email``: plain-text mail through an SMTP relay (the school's mail server or 163/QQ
enterprise mail), with ``smtplib``.

* ``security: "starttls"`` (default, port 587): the session must be upgraded with STARTTLS
  before anything else is said; a server that does not offer it is refused, never downgraded.
  ``"tls"`` (port 465) starts in TLS. The server's certificate is verified (system CAs, or
  ``ca_file``).
* ``"none"`` sends in clear and is allowed only to localhost or a loopback/private address
  (a relay on the same network) and only **without** a user name and password: credentials
  never cross a connection without TLS.
* The message is plain text, UTF-8; the subject carries the severity,
  e.g. ``[巡检][严重] 弱口令: pc-101``, or a notice's kind (``[巡检][日报] 页面巡检 ...``).
  ``X-Xunjian-Kind`` names the kind, so a mail rule can file digests apart from alerts.
  Addresses are ASCII (no SMTPUTF8 needed); display names may be Chinese.
* SMTP 4xx replies, timeouts and dropped connections are temporary; 5xx replies, a refused
  login, no STARTTLS and an untrusted certificate are permanent.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid
from typing import Literal

from server.notify import render
from server.notify.base import Notifier
from server.notify.errors import ConfigError, PermanentFailure, TemporaryFailure
from server.notify.message import AlertMessage, Delivery
from server.notify.settings import Language, http_allowed_host
from server.notify.transport import tls_context

ALERT_ID_HEADER = "X-Xunjian-Alert-Id"
# A notice (the digest) is no alert: its reference must not pass for an alert's number.
NOTICE_ID_HEADER = "X-Xunjian-Notice-Id"
KIND_HEADER = "X-Xunjian-Kind"
_ADDRESS_FORBIDDEN = set(' \t\r\n<>()[],;:"\\')


def check_address(kind: str, name: str, address: str) -> None:
    """A bare ASCII mailbox ``local@domain``; display names go in their own setting."""
    local, at, domain = address.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or not address.isascii()
        or any(ch in _ADDRESS_FORBIDDEN or ord(ch) < 32 for ch in address)
        or "@" in local
        or not all(
            label and label.replace("-", "").isalnum() and not label.startswith("-")
            for label in domain.split(".")
        )
    ):
        raise ConfigError(kind, name, f"{address!r} is not a mail address like it@school.cn")


@dataclass(frozen=True, kw_only=True)
class EmailSettings:
    host: str
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    from_address: str
    from_name: str | None = None
    to: tuple[str, ...]
    subject_prefix: str = "[巡检]"
    language: Language = "zh"
    timeout_seconds: float = 20.0
    ca_file: str | None = None
    # The name we give in EHLO. socket.gethostname() needs no DNS lookup (getfqdn, smtplib's
    # default, would ask DNS, and may hang where DNS is slow).
    helo_name: str = field(default_factory=socket.gethostname)

    def validate(self, kind: str) -> None:
        if not self.host or any(ch.isspace() for ch in self.host):
            raise ConfigError(kind, "host", "must be a host name or address")
        if not 0 < self.port < 65536:
            raise ConfigError(kind, "port", "must be 1..65535")
        if (self.username is None) != (self.password is None):
            raise ConfigError(kind, "username", "username and password go together")
        if self.security == "none":
            if self.username is not None:
                raise ConfigError(
                    kind, "security", "credentials are never sent without TLS; use starttls"
                )
            if not http_allowed_host(self.host):
                raise ConfigError(
                    kind, "security", '"none" is allowed only to localhost or a private address'
                )
        check_address(kind, "from_address", self.from_address)
        if not self.to:
            raise ConfigError(kind, "to", "needs at least one address")
        for address in self.to:
            check_address(kind, "to", address)
        for name, value in (("from_name", self.from_name), ("subject_prefix", self.subject_prefix)):
            if value is not None and ("\r" in value or "\n" in value):
                raise ConfigError(kind, name, "must be one line")
        if not 0 < self.timeout_seconds <= 300:
            raise ConfigError(kind, "timeout_seconds", "must be more than 0 and at most 300")


def build_email(message: AlertMessage, settings: EmailSettings) -> EmailMessage:
    mail = EmailMessage(policy=SMTP_POLICY)
    local, _, domain = settings.from_address.rpartition("@")
    mail["From"] = Address(settings.from_name or "", local, domain)
    mail["To"] = ", ".join(settings.to)
    # Titles are one line by contract, but a check's text may carry a line break; a header
    # must not (it would end the header early).
    subject = render.title(message, settings.language).replace("\r", " ").replace("\n", " ")
    mail["Subject"] = f"{settings.subject_prefix}{subject}"
    mail["Date"] = format_datetime(message.opened_at.astimezone())
    # make_msgid's default domain comes from getfqdn (a DNS query); use the sender's domain.
    mail["Message-ID"] = make_msgid(domain=domain)
    mail[NOTICE_ID_HEADER if message.is_notice else ALERT_ID_HEADER] = message.alert_id
    mail[KIND_HEADER] = str(message.kind)
    mail.set_content(render.plain_text(message, settings.language), charset="utf-8")
    return mail


class EmailNotifier(Notifier[EmailSettings]):
    kind = "email"
    settings_class = EmailSettings

    def send(self, message: AlertMessage) -> Delivery:
        settings = self.settings
        mail = build_email(message, settings)
        where = f"smtp://{settings.host}:{settings.port}"
        try:
            refused = self._transmit(mail)
        except smtplib.SMTPAuthenticationError as error:
            raise PermanentFailure(f"{where}: login refused ({error.smtp_code})") from None
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            text = f"{where}: every recipient refused ({_codes(error.recipients)})"
            if all(400 <= code < 500 for code in codes):
                raise TemporaryFailure(text) from None
            raise PermanentFailure(text) from None
        except smtplib.SMTPResponseException as error:
            reply = error.smtp_error.decode("utf-8", "replace")
            text = f"{where}: {error.smtp_code} {reply}"
            if 400 <= error.smtp_code < 500:
                raise TemporaryFailure(text) from None
            raise PermanentFailure(text) from None
        except smtplib.SMTPNotSupportedError as error:
            raise PermanentFailure(f"{where}: {error}") from None
        except ssl.SSLCertVerificationError as error:
            raise PermanentFailure(
                f"{where}: TLS certificate not trusted ({error.verify_message}); "
                "set ca_file for an internal CA"
            ) from None
        except TimeoutError:
            raise TemporaryFailure(
                f"{where}: no answer within {settings.timeout_seconds:g} s"
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            # Includes SMTPServerDisconnected, refused connections, TLS handshakes cut short.
            raise TemporaryFailure(f"{where}: {type(error).__name__}: {error}") from None
        detail = f"accepted for {len(settings.to) - len(refused)} of {len(settings.to)}"
        if refused:
            detail += f"; refused: {_codes(refused)}"
        return Delivery(self.kind, where, detail)

    def _transmit(self, mail: EmailMessage) -> dict[str, tuple[int, bytes]]:
        settings = self.settings
        client: smtplib.SMTP
        if settings.security == "tls":
            client = smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                local_hostname=settings.helo_name,
                timeout=settings.timeout_seconds,
                context=tls_context(settings.ca_file),
            )
        else:
            client = smtplib.SMTP(
                settings.host,
                settings.port,
                local_hostname=settings.helo_name,
                timeout=settings.timeout_seconds,
            )
        with client:
            client.ehlo()
            if settings.security == "starttls":
                if not client.has_extn("starttls"):
                    # Never fall back to clear text: the password and the alert would be
                    # readable on the wire, and an attacker can strip the STARTTLS offer.
                    raise PermanentFailure(
                        f"smtp://{settings.host}:{settings.port}: the server does not offer "
                        "STARTTLS; refusing to send without TLS"
                    )
                client.starttls(context=tls_context(settings.ca_file))
                client.ehlo()
            if settings.username is not None and settings.password is not None:
                client.login(settings.username, settings.password)
            return client.send_message(mail, from_addr=settings.from_address, to_addrs=settings.to)


def _codes(refused: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{address} {code}" for address, (code, _) in sorted(refused.items()))
