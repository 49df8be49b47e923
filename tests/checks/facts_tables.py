"""Small builders for fact tables, so each check case reads as data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from checks.facts import (
    Antivirus,
    AntivirusProduct,
    BackupLocation,
    Clock,
    FileStat,
    GroupEntry,
    InstalledPackage,
    LastLogins,
    ListeningProgram,
    ListeningSocket,
    LoginDefs,
    NetworkInterface,
    OsRelease,
    PackageActivity,
    PasswordState,
    PendingUpdate,
    ProcessInfo,
    PwQuality,
    RebootRequired,
    ScanLog,
    ShadowEntry,
    SignatureDatabase,
    SshdConfig,
    UserAccount,
)

TODAY = datetime(2026, 11, 23, tzinfo=UTC)
TODAY_DAYS = int(TODAY.timestamp() // 86400)
CLOCK = Clock(now=TODAY)
DEBIAN = OsRelease("debian", (), "Debian GNU/Linux", "12", "Debian GNU/Linux 12 (bookworm)")
ROCKY = OsRelease("rocky", ("rhel", "centos", "fedora"), "Rocky Linux", "9.4", "Rocky Linux 9.4")
BUSTER = OsRelease("debian", (), "Debian GNU/Linux", "10", "Debian GNU/Linux 10 (buster)")
UNKNOWN_OS = OsRelease("kylin", (), "Kylin", "V10", "Kylin V10")


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


# Builders for the facts of the full Linux library.


def days_ago(days: float) -> datetime:
    return TODAY - timedelta(days=days)


def package(name: str, section: str = "utils") -> InstalledPackage:
    return InstalledPackage(name, "1.0-1", "amd64", section, "dpkg")


def activity(
    lists_days: float | None = 1,
    install_days: float | None = 3,
    sources: tuple[str, ...] = ("/var/log/apt/history.log",),
) -> PackageActivity:
    return PackageActivity(
        "apt",
        None if lists_days is None else days_ago(lists_days),
        None if install_days is None else days_ago(install_days),
        None if install_days is None else "openssl",
        sources,
    )


def process(pid: int, name: str, exe: str | None = None) -> ProcessInfo:
    return ProcessInfo(pid, name, exe or f"/usr/sbin/{name}", 0)


CLAMAV = AntivirusProduct("ClamAV", ("/usr/bin/clamscan",), ("clamd", "freshclam", "clamonacc"))


def antivirus(
    products: tuple[AntivirusProduct, ...] = (CLAMAV,), daily_days: float | None = 1
) -> Antivirus:
    signatures = ()
    if daily_days is not None:
        signatures = (
            SignatureDatabase("/var/lib/clamav/main.cvd", "main", 62, days_ago(400)),
            SignatureDatabase("/var/lib/clamav/daily.cld", "daily", 27100, days_ago(daily_days)),
        )
    return Antivirus(products, signatures)


def scan_log(path: str, *ended_days: float) -> ScanLog:
    return ScanLog(path, True, tuple(days_ago(d) for d in ended_days))


def logins(sources: tuple[str, ...] = ("/var/log/wtmp",), **days: float) -> LastLogins:
    return LastLogins({name: days_ago(d) for name, d in days.items()}, sources)


def group(name: str, gid: int, *members: str) -> GroupEntry:
    return GroupEntry(name, gid, members)


def program(
    pid: int, exe: str, ports: tuple[str, ...], package: str | None, known: bool = True
) -> ListeningProgram:
    return ListeningProgram(pid, exe.rsplit("/", 1)[-1], exe, ports, package, known)


def interface(name: str, mac: str, *ipv4: str) -> NetworkInterface:
    return NetworkInterface(name, mac, tuple(f"{a}/24" for a in ipv4), ())


def backup_at(path: str, age_days: float | None, exists: bool = True) -> BackupLocation:
    if not exists:
        return BackupLocation(path, False, None, None, 0)
    if age_days is None:
        return BackupLocation(path, True, None, None, 0)
    return BackupLocation(path, True, f"{path}/backup.tar", days_ago(age_days), 3)
