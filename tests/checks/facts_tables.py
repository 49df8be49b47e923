"""Small builders for fact tables, so each check case reads as data."""

from __future__ import annotations

from datetime import UTC, datetime

from checks.facts import (
    Clock,
    FileStat,
    ListeningSocket,
    LoginDefs,
    OsRelease,
    PasswordState,
    PendingUpdate,
    PwQuality,
    RebootRequired,
    ShadowEntry,
    SshdConfig,
    UserAccount,
)

TODAY = datetime(2026, 11, 23, tzinfo=UTC)
TODAY_DAYS = int(TODAY.timestamp() // 86400)
CLOCK = Clock(now=TODAY)
DEBIAN = OsRelease("debian", (), "Debian GNU/Linux", "12", "Debian GNU/Linux 12 (bookworm)")
ROCKY = OsRelease("rocky", ("rhel", "centos", "fedora"), "Rocky Linux", "9", "Rocky Linux 9.4")


def user(
    name: str,
    uid: int,
    shell: str = "/bin/bash",
    password: PasswordState = PasswordState.SHADOWED,
) -> UserAccount:
    return UserAccount(name, uid, uid, "", f"/home/{name}", shell, password)


def shadow(
    name: str,
    state: PasswordState = PasswordState.HASHED,
    scheme: str | None = "yescrypt",
    age_days: int | None = 10,
) -> ShadowEntry:
    last_change = None if age_days is None else TODAY_DAYS - age_days
    if state is not PasswordState.HASHED and state is not PasswordState.LOCKED:
        scheme = None
    return ShadowEntry(name, state, scheme, last_change, 0, 99999, 7, None, None)


def login_defs(
    max_days: int | None = 90, min_len: int | None = None, uid_min: int = 1000
) -> LoginDefs:
    return LoginDefs(max_days, 0, min_len, 7, uid_min, 60000, "YESCRYPT")


def pwquality(
    minlen: int | None = None,
    minclass: int | None = None,
    credits: tuple[int | None, int | None, int | None, int | None] = (None, None, None, None),
    module: str | None = "pam_pwquality.so",
    pam_files_read: bool = True,
    sources: tuple[str, ...] = ("/etc/security/pwquality.conf",),
) -> PwQuality:
    d, u, lower, o = credits
    return PwQuality(minlen, minclass, d, u, lower, o, module, pam_files_read, sources)


def tcp(port: int, address: str = "0.0.0.0") -> ListeningSocket:
    family = "ipv6" if ":" in address else "ipv4"
    return ListeningSocket("tcp", family, address, port, 0, 1000 + port)


def udp(port: int, address: str = "0.0.0.0") -> ListeningSocket:
    family = "ipv6" if ":" in address else "ipv4"
    return ListeningSocket("udp", family, address, port, 0, 2000 + port)


def reboot(required: bool, *packages: str) -> RebootRequired:
    return RebootRequired(required, "/var/run/reboot-required", tuple(packages))


def sshd(**settings: str) -> SshdConfig:
    return SshdConfig(
        "/etc/ssh/sshd_config",
        {k.lower(): v for k, v in settings.items()},
        ("/etc/ssh/sshd_config",),
    )


def update(package: str, security: bool) -> PendingUpdate:
    origin = "Debian-Security:12/stable-security" if security else "Debian:12.8/stable"
    return PendingUpdate(package, "1.0", "1.1", origin, security)


def file_stat(path: str, mode: int, uid: int = 0, gid: int = 0, group: str = "root") -> FileStat:
    owner = "root" if uid == 0 else f"user{uid}"
    return FileStat(path, True, mode, uid, gid, owner, group)


SAFE_FILES = (
    file_stat("/etc/passwd", 0o644),
    file_stat("/etc/group", 0o644),
    file_stat("/etc/shadow", 0o640, gid=42, group="shadow"),
    file_stat("/etc/gshadow", 0o640, gid=42, group="shadow"),
)
