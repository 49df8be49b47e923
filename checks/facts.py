"""Typed, platform-neutral facts that collectors produce and checks judge.

No fact ever holds a password or a password hash: the shadow collector keeps only what kind of
entry it saw (empty, locked, which hash scheme), so no check, log line or evidence can leak one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class FactName(StrEnum):
    USERS = "users"
    GROUPS = "groups"
    SHADOW = "shadow"
    LOGIN_DEFS = "login_defs"
    PWQUALITY = "pwquality"
    LISTENING_SOCKETS = "listening_sockets"
    REBOOT_REQUIRED = "reboot_required"
    OS_RELEASE = "os_release"
    SSHD_CONFIG = "sshd_config"
    PENDING_UPDATES = "pending_updates"
    SENSITIVE_FILES = "sensitive_files"
    CLOCK = "clock"
    PACKAGES = "packages"
    PACKAGE_ACTIVITY = "package_activity"
    KERNELS = "kernels"
    PROCESSES = "processes"
    ANTIVIRUS = "antivirus"
    SCAN_LOG = "scan_log"  # keyed by the log's path
    LAST_LOGINS = "last_logins"
    WEAK_PASSWORDS = "weak_passwords"  # keyed by the organisation's words
    LISTENING_PROGRAMS = "listening_programs"
    AUTHORIZED_KEYS = "authorized_keys"
    SCHEDULED_JOBS = "scheduled_jobs"
    SUDO_RULES = "sudo_rules"
    TIME_SYNC = "time_sync"
    MAC_STATE = "mac_state"
    PAM_LOCKOUT = "pam_lockout"
    PAM_HISTORY = "pam_history"
    LOG_SETUP = "log_setup"
    SPECIAL_FILES = "special_files"
    DESKTOP_SETTINGS = "desktop_settings"
    FIREWALL = "firewall"
    NETWORK_INTERFACES = "network_interfaces"
    BACKUP_LOCATION = "backup_location"  # keyed by the location's path
    # Windows only (checks/facts_windows.py)
    WINDOWS_SYSTEM = "windows_system"
    WINDOWS_EXPOSURE = "windows_exposure"
    WINDOWS_DEFENDER = "windows_defender"
    WINDOWS_SECURITY_CENTER = "windows_security_center"
    WINDOWS_ACCOUNTS = "windows_accounts"
    WINDOWS_DESKTOP = "windows_desktop"


# Facts that depend on a value from the policy (a path): collected once per key.
KEYED_FACTS = frozenset({FactName.SCAN_LOG, FactName.BACKUP_LOCATION, FactName.WEAK_PASSWORDS})


class PasswordState(StrEnum):
    """What a password field holds, without its content."""

    EMPTY = "empty"  # no password at all: anyone may log in
    LOCKED = "locked"  # "!" before a hash: the hash is kept but cannot be used
    NO_PASSWORD_LOGIN = "no_password_login"  # "*", "!", "!!", "x" in shadow: no password works
    HASHED = "hashed"
    SHADOWED = "shadowed"  # "x" in /etc/passwd: look in /etc/shadow


@dataclass(frozen=True)
class UserAccount:
    name: str
    uid: int
    gid: int
    gecos: str
    home: str
    shell: str
    password_state: PasswordState

    @property
    def can_log_in_interactively(self) -> bool:
        base = self.shell.rsplit("/", 1)[-1]
        return bool(self.shell) and base not in {"nologin", "false", "sync", "shutdown", "halt"}


@dataclass(frozen=True)
class GroupEntry:
    name: str
    gid: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class ShadowEntry:
    name: str
    password_state: PasswordState
    hash_scheme: str | None  # "sha512", "yescrypt", "md5", "des", ... when HASHED
    last_change_days: int | None  # days since 1970-01-01; 0 means "must change at next login"
    min_days: int | None
    max_days: int | None
    warn_days: int | None
    inactive_days: int | None
    expire_days: int | None


@dataclass(frozen=True)
class LoginDefs:
    """The settings of /etc/login.defs that checks judge; None when the file does not set one."""

    pass_max_days: int | None
    pass_min_days: int | None
    pass_min_len: int | None
    pass_warn_age: int | None
    uid_min: int | None
    uid_max: int | None
    encrypt_method: str | None


@dataclass(frozen=True)
class PwQuality:
    """Effective libpwquality settings: pwquality.conf.d, then pwquality.conf, then PAM args.

    `pam_module` is the quality module found in the PAM password stack (pam_pwquality.so or
    pam_cracklib.so), None when none was found; `pam_files_read` tells whether any PAM file was
    there to look at.
    """

    minlen: int | None
    minclass: int | None
    dcredit: int | None
    ucredit: int | None
    lcredit: int | None
    ocredit: int | None
    pam_module: str | None
    pam_files_read: bool
    sources: tuple[str, ...]

    @property
    def required_classes_by_credit(self) -> int:
        """How many character classes negative credits make mandatory."""
        credits = (self.dcredit, self.ucredit, self.lcredit, self.ocredit)
        return sum(1 for credit in credits if credit is not None and credit < 0)


@dataclass(frozen=True)
class ListeningSocket:
    protocol: str  # "tcp" or "udp"
    family: str  # "ipv4" or "ipv6"
    address: str
    port: int
    uid: int
    inode: int

    @property
    def is_loopback(self) -> bool:
        return (
            self.address.startswith("127.")
            or self.address in {"::1", "::ffff:127.0.0.1"}
            or (self.address.startswith("::ffff:127."))
        )


@dataclass(frozen=True)
class RebootRequired:
    required: bool
    flag_path: str
    packages: tuple[str, ...]


@dataclass(frozen=True)
class OsRelease:
    id: str
    id_like: tuple[str, ...]
    name: str
    version_id: str
    pretty_name: str

    @property
    def is_debian_family(self) -> bool:
        return self.id == "debian" or "debian" in self.id_like or "ubuntu" in self.id_like


@dataclass(frozen=True)
class SshdConfig:
    """Global OpenSSH server settings, keys lower-cased; the first value given wins, as in sshd.

    Settings inside `Match` blocks are left out: they apply only to some connections.
    """

    path: str
    settings: dict[str, str] = field(default_factory=dict)
    files_read: tuple[str, ...] = ()

    def get(self, key: str, default: str) -> str:
        return self.settings.get(key.lower(), default)


@dataclass(frozen=True)
class AuthorizedKey:
    """One public key that may log in as an account over SSH; the key itself is not kept."""

    account: str
    path: str
    key_type: str  # "ssh-ed25519", "ssh-rsa", ...
    fingerprint: str  # "SHA256:..." as ssh-keygen -l prints it
    comment: str


@dataclass(frozen=True)
class JobProgram:
    """A file a scheduled job names, and who may change it."""

    path: str
    exists: bool
    mode: int | None  # permission bits only
    uid: int | None
    gid: int | None


@dataclass(frozen=True)
class ScheduledJob:
    source: str  # the crontab, cron folder or systemd unit that holds the job
    account: str  # the account the job runs as
    command: str
    programs: tuple[JobProgram, ...]


@dataclass(frozen=True)
class SudoRule:
    source: str  # the sudoers file
    principal: str  # "alice", "%sudo", or a User_Alias name
    all_commands: bool  # the command list is ALL
    nopasswd: bool


@dataclass(frozen=True)
class TimeSync:
    enabled_services: tuple[str, ...]  # time services started at boot
    looked_for: tuple[str, ...]


@dataclass(frozen=True)
class MacState:
    apparmor_at_boot: bool  # apparmor.service is enabled
    apparmor_in_kernel: bool | None  # live hosts only; None when unknown (a tree)
    selinux_mode: str | None  # "enforcing", "permissive", "disabled"; None without SELinux


@dataclass(frozen=True)
class PamLockout:
    """Lockout after failed logins: the module in the PAM auth stack and its settings.

    `deny` is what binds (module arguments over faillock.conf over the module's default), None
    when no lockout module is in the stack; 0 means the module never locks.
    """

    module: str | None  # "pam_faillock.so" or "pam_tally2.so"
    deny: int | None
    unlock_time: int | None  # seconds; 0: only an administrator unlocks
    pam_files_read: tuple[str, ...]
    sources: tuple[str, ...]  # the files that set what binds


@dataclass(frozen=True)
class PamHistory:
    """Password history: how many old passwords a new one may not repeat (pam_pwhistory, or
    pam_unix's remember=); 0 when no module in the password stack remembers any."""

    module: str | None  # "pam_pwhistory.so" or "pam_unix.so"
    remember: int
    pam_files_read: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class LogRotation:
    """One logrotate block: the files it rotates and how long their old copies stay."""

    config: str  # the file holding the block
    paths: tuple[str, ...]  # its path patterns
    period_days: float | None  # daily 1, weekly 7, ...; None: by size, or no period at all
    rotate: int  # old copies kept
    maxage_days: int | None

    @property
    def kept_days(self) -> float | None:
        """Days an old line survives at least; None when rotation is not by time."""
        if self.period_days is None:
            return None
        days = self.period_days * self.rotate
        return days if self.maxage_days is None else min(days, float(self.maxage_days))


@dataclass(frozen=True)
class LogSetup:
    journald_installed: bool
    journald_storage: str | None  # Storage= in force ("auto" by default); None without journald
    journal_dir_exists: bool  # /var/log/journal, where "auto" keeps the journal on disk
    journald_max_retention_days: float | None  # MaxRetentionSec=; None: unset (size only)
    syslog_daemons: tuple[str, ...]  # installed and started at boot: rsyslog, syslog-ng
    syslog_files: tuple[str, ...]  # the files their configuration writes
    rotations: tuple[LogRotation, ...]

    @property
    def journal_on_disk(self) -> bool:
        storage = self.journald_storage
        return storage == "persistent" or (storage == "auto" and self.journal_dir_exists)


@dataclass(frozen=True)
class SpecialFile:
    path: str
    mode: int  # permission bits with set-user-id, set-group-id and sticky
    is_dir: bool
    uid: int
    gid: int
    package: str | None  # the installed package that ships it (dpkg); None: none or unknown


@dataclass(frozen=True)
class SpecialFiles:
    """Files whose mode matters wherever they are, found by one walk of the host's folders:
    world-writable files and folders (not sticky folders such as /tmp), and set-user-id or
    set-group-id programs. `packages_known` says whether a package database was there to
    name owners."""

    world_writable: tuple[SpecialFile, ...]
    setid: tuple[SpecialFile, ...]
    walked: tuple[str, ...]
    packages_known: bool


@dataclass(frozen=True)
class DesktopSettings:
    """A desktop's settings in force for every user, keyed "schema key"
    ("org.gnome.desktop.session idle-delay"), as GVariant text without its type ("300",
    "true"); `locked` holds the keys a user cannot change."""

    desktops: tuple[str, ...]  # desktops and display managers installed; empty on a server
    gnome_settings: bool  # GNOME's desktop schemas are installed, so the values mean something
    values: dict[str, str]
    sources: dict[str, str]  # where each value comes from (schema, override, dconf keyfile)
    locked: tuple[str, ...]


@dataclass(frozen=True)
class PendingUpdate:
    package: str
    current_version: str | None
    new_version: str
    origin: str
    is_security: bool


@dataclass(frozen=True)
class FileStat:
    path: str
    exists: bool
    mode: int | None  # permission bits only
    uid: int | None
    gid: int | None
    owner: str | None
    group: str | None


@dataclass(frozen=True)
class Clock:
    """When the scan runs, so that age checks stay pure."""

    now: datetime

    @property
    def days_since_epoch(self) -> int:
        return int(self.now.timestamp() // 86400)


@dataclass(frozen=True)
class InstalledPackage:
    name: str
    version: str
    architecture: str
    section: str  # Debian's section ("games", "net"); the RPM group, or "" when unknown
    manager: str  # "dpkg" or "rpm"
    description: str = ""  # the one-line summary (dpkg's Description, rpm's SUMMARY)
    # apt's mark (/var/lib/apt/extended_states): installed only as another package's dependency
    auto_installed: bool = False
    depends: tuple[str, ...] = ()  # names in Pre-Depends, Depends and Recommends


@dataclass(frozen=True)
class PackageActivity:
    """When the package manager last refreshed its lists and last installed something.

    None means no record was found, which checks must not read as "recent".
    """

    manager: str  # "apt" or "dnf"
    lists_refreshed_at: datetime | None
    last_install_at: datetime | None
    last_install_package: str | None
    sources: tuple[str, ...]
    # apt only: the suites of the downloaded package lists, and which of them carry security
    # updates (a host with lists but no security suite never sees a security fix).
    package_suites: tuple[str, ...] = ()
    security_suites: tuple[str, ...] = ()


@dataclass(frozen=True)
class Kernels:
    running: str | None
    installed: tuple[str, ...]  # versions with an image in /boot or modules in /lib/modules


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    name: str  # /proc/PID/comm
    exe: str | None  # where /proc/PID/exe points; None when it cannot be read
    uid: int | None


@dataclass(frozen=True)
class SignatureDatabase:
    path: str
    name: str  # "daily", "main", "bytecode"
    version: int | None
    built_at: datetime | None


@dataclass(frozen=True)
class AntivirusProduct:
    name: str  # "ClamAV", "Sophos", ...
    found_at: tuple[str, ...]  # the files that show it is installed
    process_names: tuple[str, ...]  # its daemons, any of which shows it is running


@dataclass(frozen=True)
class Antivirus:
    products: tuple[AntivirusProduct, ...]
    signatures: tuple[SignatureDatabase, ...]


@dataclass(frozen=True)
class ScanLog:
    """Scans a product recorded in one log; an absent log has exists False."""

    path: str
    exists: bool
    scans_ended: tuple[datetime, ...]


@dataclass(frozen=True)
class LastLogins:
    """The newest login of each account from every login record the host keeps."""

    by_account: dict[str, datetime]
    sources: tuple[str, ...]  # the records read (wtmp, lastlog, lastlog2); empty when none exist


@dataclass(frozen=True)
class WeakPassword:
    """An account whose password hash matches a shipped weak candidate. Never the password."""

    account: str
    kind: str  # "vendor default", "common weak", "same as the account name"


@dataclass(frozen=True)
class WeakPasswords:
    matches: tuple[WeakPassword, ...]
    accounts_tested: tuple[str, ...]
    candidates: int
    unsupported: tuple[str, ...]  # accounts whose hash scheme libcrypt here cannot compute
    # Accounts with a slow hash (yescrypt, bcrypt) not yet tried against every candidate, and
    # how many they were tried against: an agent spreads that work over its first scans.
    incomplete: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class ListeningProgram:
    pid: int
    name: str
    exe: str | None
    ports: tuple[str, ...]  # "tcp/22", "udp/67"
    package: str | None  # the package that owns the binary; None when none does
    owner_known: bool  # False when no package database could be asked
    # The process's whole command line (a python listener is told apart by its script, not
    # by "python"), the account it runs as ("" when unknown; on Windows from psutil), and its
    # parent's command line (a worker spawned by multiprocessing names only multiprocessing;
    # its parent names the program).
    command: tuple[str, ...] = ()
    user: str = ""
    parent_command: tuple[str, ...] = ()


@dataclass(frozen=True)
class Firewall:
    """The host firewall as its configuration or the kernel describes it."""

    backends: tuple[str, ...]  # "nftables", "iptables", "ufw", "firewalld" that are active
    default_inbound: str | None  # "drop", "reject", "accept"; None when nothing filters input
    source: str  # "kernel" (live rule set) or "configuration"
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NetworkInterface:
    name: str
    mac: str
    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...]


@dataclass(frozen=True)
class BackupLocation:
    path: str
    exists: bool
    newest_file: str | None
    newest_at: datetime | None
    files_seen: int
