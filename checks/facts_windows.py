"""Typed facts of Windows hosts, as the Windows collectors (checks/collectors/windows/) read them
from registry hives and the checks judge them (docs/windows.md). Like every fact, none holds a
password or a password hash."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

WINDOWS_11_FIRST_BUILD = 22000


@dataclass(frozen=True)
class WindowsVersion:
    product_name: str  # as the registry says, e.g. "Windows 10 Pro"
    edition: str  # EditionID: Professional, Enterprise, EnterpriseS (LTSC), ServerStandard...
    display_version: str  # "22H2"; ReleaseId on older builds; "" when neither is set
    build: int
    ubr: int | None
    installation_type: str  # "Client", "Server", "Server Core"
    installed_at: datetime.datetime | None

    @property
    def is_server(self) -> bool:
        return self.installation_type.lower().startswith("server")

    @property
    def name(self) -> str:
        """The product name with Windows 11 named as such."""
        if self.build >= WINDOWS_11_FIRST_BUILD and self.product_name.startswith("Windows 10"):
            return "Windows 11" + self.product_name[len("Windows 10") :]
        return self.product_name

    @property
    def patch_level(self) -> str:
        return f"{self.build}.{self.ubr}" if self.ubr is not None else str(self.build)


@dataclass(frozen=True)
class CumulativeUpdate:
    build: int
    ubr: int
    installed_at: datetime.datetime | None
    # "cbs" (Component Based Servicing, in the SOFTWARE hive) or "history" (Windows Update's
    # own history, on the running PC only), and the KB number where the source names it.
    source: str = "cbs"
    kb: str = ""


@dataclass(frozen=True)
class Exposure:
    firewall: dict[str, bool | None]  # "domain"/"private"/"public" -> enabled; None unknown
    rdp_enabled: bool
    rdp_requires_nla: bool
    smb1_server: bool | None  # None: not set (enabled by default before Windows 10 1709)
    smb1_client_driver: bool  # the mrxsmb10 driver is installed and not disabled
    services: dict[str, str | None]  # service -> start mode name; None when not installed
    autorun_disabled_drive_types: int | None  # NoDriveTypeAutoRun; None when not set
    windows_update_disabled_by_policy: bool


@dataclass(frozen=True)
class DefenderState:
    installed: bool
    disabled_by_policy: bool  # DisableAntiSpyware=1 (also set when a third-party AV took over)
    realtime_disabled: bool
    signature_version: str
    signatures_updated_at: datetime.datetime | None
    # What only the running PC says (MSFT_MpComputerStatus); None from a volume's hives.
    service_enabled: bool | None = None  # AMServiceEnabled
    antivirus_enabled: bool | None = None  # AntivirusEnabled
    quick_scan_at: datetime.datetime | None = None  # QuickScanEndTime
    full_scan_at: datetime.datetime | None = None  # FullScanEndTime

    @property
    def live(self) -> bool:
        return self.service_enabled is not None

    @property
    def last_scan_at(self) -> datetime.datetime | None:
        scans = [when for when in (self.quick_scan_at, self.full_scan_at) if when is not None]
        return max(scans) if scans else None


@dataclass(frozen=True)
class SecurityCenterProduct:
    """An antivirus registered with Windows Security Center (root/SecurityCenter2)."""

    name: str  # displayName, as the product registers itself ("360杀毒", "火绒安全软件")
    state: str  # "on", "off", "snoozed", "expired", "unknown": decoded from productState
    signatures_up_to_date: bool
    by_microsoft: bool  # Microsoft Defender itself
    product_state: int  # the raw productState, for evidence


@dataclass(frozen=True)
class SecurityCenter:
    """Security Center's antivirus products, or why they cannot be read (a volume, a Server)."""

    readable: bool
    reason: str  # "" when readable
    products: tuple[SecurityCenterProduct, ...] = ()


@dataclass(frozen=True)
class LocalAccount:
    """A local account as the SAM holds it."""

    rid: int
    name: str
    full_name: str
    comment: str
    disabled: bool
    locked: bool
    password_not_required: bool
    password_never_expires: bool
    # False when the SAM holds no NT hash (an empty password); None from the Net API, which
    # never says.
    has_password: bool | None
    last_logon: datetime.datetime | None
    password_last_set: datetime.datetime | None
    logon_count: int
    bad_password_count: int


@dataclass(frozen=True)
class SamPasswordPolicy:
    """The account domain's password and lockout policy (``Domains\\Account\\F``)."""

    min_length: int
    complexity: bool | None  # None from the Net API, which does not carry it
    max_age_days: int | None  # None: passwords never expire
    min_age_days: int
    history: int
    lockout_threshold: int  # 0: never locks
    lockout_minutes: int | None


@dataclass(frozen=True)
class InstalledProgram:
    name: str
    version: str
    publisher: str
    install_date: str  # as Windows keeps it (YYYYMMDD in Uninstall); "" when absent
    source: str  # "uninstall-64", "uninstall-32", "user:<profile>", "amcache"
    key: str  # the Uninstall subkey name or Amcache id: stable across renames of DisplayName


@dataclass(frozen=True)
class WindowsSystem:
    """What the SOFTWARE hive says of the installed Windows and its updates."""

    version: WindowsVersion
    cumulative_updates: tuple[CumulativeUpdate, ...]  # installed, oldest first
    # On the running PC: why Windows Update's history could not be read ("" when it was, or
    # from a volume, which has none); the hive's CBS packages then stand alone.
    history_error: str = ""

    @property
    def last_cumulative_update(self) -> CumulativeUpdate | None:
        return self.cumulative_updates[-1] if self.cumulative_updates else None


@dataclass(frozen=True)
class WindowsAccounts:
    """The SAM's local accounts, the Administrators group by SID, and the password policy."""

    accounts: tuple[LocalAccount, ...]
    machine_sid: str
    administrators: tuple[str, ...]  # member SIDs of S-1-5-32-544
    # None when this Windows does not give it (wine has no NetUserModalsGet level 0/3); why is
    # in policy_error.
    policy: SamPasswordPolicy | None
    # "sam" (the hive, or its copy saved live), or "netapi" (NetUserEnum/NetUserModalsGet, when
    # the SAM could not be saved).
    source: str = "sam"
    policy_error: str = ""
    # False when NetUserEnum gave only level 20 (wine): no last logon, no password age.
    logon_times_known: bool = True

    def account_of(self, sid: str) -> LocalAccount | None:
        """The local account a SID names (machine SID + RID); None for domain or other SIDs."""
        prefix = self.machine_sid + "-"
        if not sid.startswith(prefix) or not sid[len(prefix) :].isdigit():
            return None
        rid = int(sid[len(prefix) :])
        return next((account for account in self.accounts if account.rid == rid), None)


@dataclass(frozen=True)
class UserScreenLock:
    """One user's screen saver as their NTUSER.DAT sets it (group policy first)."""

    profile: str
    active: bool
    secure: bool  # a password is asked on resume
    timeout_seconds: int | None


@dataclass(frozen=True)
class WindowsDesktop:
    """What locks an unattended PC: the machine's inactivity limit and each user's screen saver."""

    machine_inactivity_seconds: int | None  # Policies\System\InactivityTimeoutSecs
    users: tuple[UserScreenLock, ...]
