"""The SSH prober: does a device still accept a vendor-default credential? (POLICY.md E5)

What it does, in order (docs/devices.md says the same for the people who authorise it):

1. For each user name on the device type's list, one connection that asks for the "none"
   method (``Transport.auth_none``): the server answers with the methods it offers that user,
   and no password is sent. A user offered neither ``password`` nor ``keyboard-interactive``
   gets no attempt at all; a device that offers neither to anyone gets none.
2. Then one password per connection, top down, at most one attempt per
   ``attempt_interval`` seconds and at most ``max_attempts`` per check, and nothing else:
   no session is ever opened, no command ever runs with a credential that works.
3. It stops at the first credential accepted, at the end of the list or the limit, or at the
   first sign of lockout or banning. Signs, once at least one password was tried:

   * the connection is refused, reset, closed or times out (fail2ban, sshguard and most
     devices' own lockouts drop or reject the address);
   * the server's version string changes (something else now answers);
   * the pre-authentication banner changes, or a banner or prompt speaks of lockout
     ("too many", "locked", "blocked", "banned", "try again later", ...);
   * the device stops offering password login to a user it offered it before;
   * the server ends the SSH session with a disconnect instead of an answer.

The found password is returned in a ``Credential`` whose repr hides it, and is never logged.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import paramiko

from server.devices.defaults import Credential

PASSWORD_METHODS = ("password", "keyboard-interactive")
LOCKOUT_WORDS = (
    "too many",
    "locked",
    "lockout",
    "blocked",
    "banned",
    "blacklist",
    "try again later",
    "temporarily",
)
MAX_BANNER = 2000

# paramiko's INFO lines are harmless (no secrets) but say nothing an operator needs.
logging.getLogger("paramiko").setLevel(logging.WARNING)


@dataclass(frozen=True)
class ProbeSettings:
    attempt_interval: float = 2.0
    max_attempts: int = 10
    timeout: float = 10.0


@dataclass
class ProbeOutcome:
    outcome: str  # server.devices.models.OUTCOMES
    message: str
    attempts: int = 0
    methods: dict[str, list[str]] = field(default_factory=dict)
    server_version: str = ""
    host_key: str = ""
    found: Credential | None = None


class _Unreachable(Exception):
    pass


class _LockoutSign(Exception):
    pass


@dataclass
class _Seen:
    """What the device looked like on the first connection, to notice changes."""

    version: str | None = None
    banner: str | None = None
    host_key: str = ""


def _lockout_words(text: str) -> str | None:
    lowered = text.lower()
    return next((word for word in LOCKOUT_WORDS if word in lowered), None)


def _fingerprint(key: paramiko.PKey) -> str:
    return f"{key.get_name()} SHA256:{key.fingerprint.split(':', 1)[-1]}"


class _Connection:
    """One SSH transport to the device, handshake done, not authenticated."""

    def __init__(self, address: str, port: int, timeout: float) -> None:
        try:
            self.sock = socket.create_connection((address, port), timeout=timeout)
        except OSError as exc:
            raise _Unreachable(_why(exc)) from exc
        self.transport = paramiko.Transport(self.sock)
        self.transport.banner_timeout = timeout
        self.transport.auth_timeout = timeout
        self.transport.handshake_timeout = timeout
        try:
            self.transport.start_client(timeout=timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            self.close()
            raise _Unreachable(f"no SSH handshake: {_why(exc)}") from exc

    @property
    def version(self) -> str:
        return str(self.transport.remote_version or "")[:200]

    @property
    def host_key(self) -> str:
        key = self.transport.get_remote_server_key()
        return _fingerprint(key) if key is not None else ""

    def banner(self) -> str:
        raw = self.transport.get_banner()
        if raw is None:
            return ""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return text[:MAX_BANNER]

    def methods(self, user: str) -> list[str] | None:
        """The methods offered to ``user`` (no password sent); None if "none" logged it in."""
        try:
            self.transport.auth_none(user)
        except paramiko.BadAuthenticationType as exc:
            return [str(method) for method in exc.allowed_types][:20]
        return None

    def try_password(self, credential: Credential, methods: Sequence[str]) -> bool:
        if "password" in methods:
            try:
                remaining = self.transport.auth_password(credential.user, credential.password)
            except paramiko.AuthenticationException:
                return False
            # A non-empty list is a partial success: a second factor is still wanted.
            return not remaining and self.transport.is_authenticated()
        prompts_seen: list[str] = []

        def answer(_title: str, instructions: str, prompts: list[tuple[str, bool]]) -> list[str]:
            prompts_seen.append(instructions + " ".join(text for text, _echo in prompts))
            return [credential.password for _prompt in prompts]

        try:
            remaining = self.transport.auth_interactive(credential.user, answer)
        except paramiko.AuthenticationException:
            sign = _lockout_words(" ".join(prompts_seen))
            if sign:
                raise _LockoutSign(f"the login prompt says {sign!r}") from None
            return False
        return not remaining and self.transport.is_authenticated()

    def close(self) -> None:
        try:
            self.transport.close()
        finally:
            self.sock.close()


def _why(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(exc, EOFError):
        return "the device closed the connection"
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


class _Pacer:
    """At most one password attempt per ``interval`` seconds, for the whole check."""

    def __init__(
        self,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self.last: float | None = None

    def wait(self) -> None:
        if self.last is not None:
            remaining = self.last + self.interval - self.clock()
            if remaining > 0:
                self.sleep(remaining)
        self.last = self.clock()


def _note(seen: _Seen, connection: _Connection, after_attempts: int) -> None:
    """Remember the first connection's version and banner; later, a change is a sign."""
    version, banner = connection.version, connection.banner()
    if seen.version is None:
        seen.version, seen.banner, seen.host_key = version, banner, connection.host_key
        return
    if after_attempts and version != seen.version:
        raise _LockoutSign("the server's version string changed")
    if after_attempts and banner != seen.banner:
        word = _lockout_words(banner)
        raise _LockoutSign(
            f"the login banner changed and says {word!r}" if word else "the login banner changed"
        )


def probe(
    address: str,
    port: int,
    credentials: Sequence[Credential],
    settings: ProbeSettings,
    pacer: _Pacer | None = None,
) -> ProbeOutcome:
    """Look for a vendor-default credential on ``address:port`` (see the module's text)."""
    pacer = pacer or _Pacer(settings.attempt_interval)
    seen = _Seen()
    outcome = ProbeOutcome(outcome="error", message="")
    users = list(dict.fromkeys(credential.user for credential in credentials))
    # 1. The offered methods, per user, without a password.
    for user in users:
        try:
            connection = _Connection(address, port, settings.timeout)
        except _Unreachable as exc:
            return _finish(outcome, seen, "unreachable", f"{address}:{port}: {exc}")
        try:
            # The banner comes with the answer to the first authentication request.
            methods = connection.methods(user)
            _note(seen, connection, 0)
            word = _lockout_words(seen.banner or "")
            if word:
                return _finish(
                    outcome, seen, "lockout", f"the login banner says {word!r}; nothing tried"
                )
        except (paramiko.SSHException, OSError, EOFError) as exc:
            return _finish(outcome, seen, "error", f"asking for login methods: {_why(exc)}")
        finally:
            connection.close()
        if methods is None:
            outcome.methods[user] = ["none"]
            outcome.found = Credential(user, "")
            return _finish(
                outcome,
                seen,
                "default_credential",
                f"the device lets user {user} in without any password",
            )
        outcome.methods[user] = methods
    candidates = [
        credential
        for credential in credentials
        if any(method in PASSWORD_METHODS for method in outcome.methods[credential.user])
    ]
    if not candidates:
        offered = sorted({method for methods in outcome.methods.values() for method in methods})
        return _finish(
            outcome,
            seen,
            "no_password_auth",
            f"the device offers no password login ({', '.join(offered) or 'nothing'}); "
            "no password was tried",
        )
    # 2. One password per connection, paced, stopping at the first sign of lockout.
    limited = candidates[: settings.max_attempts]
    for credential in limited:
        pacer.wait()
        try:
            connection = _Connection(address, port, settings.timeout)
        except _Unreachable as exc:
            return _stopped(outcome, seen, str(exc))
        try:
            methods = connection.methods(credential.user)
            _note(seen, connection, outcome.attempts)
            if methods is None:
                outcome.found = Credential(credential.user, "")
                return _finish(
                    outcome,
                    seen,
                    "default_credential",
                    f"the device lets user {credential.user} in without any password",
                )
            offered = [method for method in methods if method in PASSWORD_METHODS]
            if not offered:
                return _stopped(
                    outcome,
                    seen,
                    f"the device stopped offering password login to {credential.user}",
                )
            outcome.attempts += 1
            accepted = connection.try_password(credential, offered)
        except _LockoutSign as exc:
            return _stopped(outcome, seen, str(exc))
        except (paramiko.SSHException, OSError, EOFError) as exc:
            return _stopped(outcome, seen, f"the device ended the connection: {_why(exc)}")
        finally:
            connection.close()
        if accepted:
            outcome.found = credential
            return _finish(
                outcome,
                seen,
                "default_credential",
                f"the device accepts a vendor-default password for user {credential.user}",
            )
    skipped = len(candidates) - len(limited)
    tail = f"; {skipped} more not tried (limit {settings.max_attempts} a check)" if skipped else ""
    return _finish(
        outcome,
        seen,
        "no_default",
        f"none of {outcome.attempts} vendor-default credentials was accepted{tail}",
    )


def _stopped(outcome: ProbeOutcome, seen: _Seen, why: str) -> ProbeOutcome:
    if outcome.attempts == 0:
        return _finish(outcome, seen, "unreachable", why)
    return _finish(
        outcome,
        seen,
        "lockout",
        f"stopped after {outcome.attempts} attempt(s) at a sign of lockout: {why}",
    )


def _finish(outcome: ProbeOutcome, seen: _Seen, kind: str, message: str) -> ProbeOutcome:
    outcome.outcome = kind
    outcome.message = message
    outcome.server_version = seen.version or ""
    outcome.host_key = seen.host_key
    return outcome


def try_key(
    address: str, port: int, user: str, key: paramiko.PKey, timeout: float
) -> paramiko.SSHClient | None:
    """An SSH client logged in with the organisation's key, or None if the device refuses it
    (or offers no public key login). The caller closes it."""
    client = paramiko.SSHClient()
    # The device's host key is recorded by the check (ProbeOutcome.host_key), not pinned here:
    # nothing secret is sent to it (a public key signature cannot be replayed elsewhere).
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(
            address,
            port=port,
            username=user,
            pkey=key,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            allow_agent=False,
            look_for_keys=False,
        )
    except (paramiko.SSHException, OSError, EOFError):
        client.close()
        return None
    return client
