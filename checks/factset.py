"""Facts collected once per scan and handed to checks through a typed, declared view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from checks.collectors import collector_for, keyed_collector_for
from checks.collectors.linux.weak_passwords import organisation_key
from checks.errors import CollectError
from checks.facts import (
    KEYED_FACTS,
    Antivirus,
    AuthorizedKey,
    BackupLocation,
    Clock,
    DesktopSettings,
    FactName,
    FileStat,
    Firewall,
    GroupEntry,
    InstalledPackage,
    Kernels,
    LastLogins,
    ListeningProgram,
    ListeningSocket,
    LoginDefs,
    LogSetup,
    MacState,
    NetworkInterface,
    OsRelease,
    PackageActivity,
    PamHistory,
    PamLockout,
    PendingUpdate,
    ProcessInfo,
    PwQuality,
    RebootRequired,
    ScanLog,
    ScheduledJob,
    ShadowEntry,
    SpecialFiles,
    SshdConfig,
    SudoRule,
    TimeSync,
    UserAccount,
    WeakPasswords,
)
from checks.facts_windows import (
    DefenderState,
    Exposure,
    SecurityCenter,
    WindowsAccounts,
    WindowsDesktop,
    WindowsSystem,
)
from checks.host import HostContext


class UndeclaredFact(RuntimeError):
    """A check read a fact its registry entry does not declare."""


class FactSource:
    """Collects each fact at most once per scan; a collector's failure is remembered too, so
    every check that needs the fact reports the same reason."""

    def __init__(self, host: HostContext | None, preset: Mapping[FactName, Any] | None = None):
        self._host = host
        self._cache: dict[FactName, Any] = dict(preset or {})
        self._keyed: dict[FactName, dict[str, Any]] = {}
        self.collections: dict[FactName, int] = {}

    @classmethod
    def from_values(cls, values: Mapping[FactName, Any]) -> FactSource:
        """Facts given as a table (tests of checks); a value may be a CollectError to raise."""
        return cls(host=None, preset=values)

    def get(self, name: FactName) -> Any:
        if name not in self._cache:
            if self._host is None:
                raise UndeclaredFact(f"no value for fact {name} was given")
            self.collections[name] = self.collections.get(name, 0) + 1
            host = self._host
            collect = collector_for(name, host.platform)
            if collect is None:
                self._cache[name] = CollectError(f"{name} is not collected on {host.platform}")
            else:
                self._cache[name] = _collected(name, lambda: collect(host))
        return _value_or_raise(self._cache[name])

    def get_keyed(self, name: FactName, key: str) -> Any:
        """A fact that depends on a policy value, such as the newest file in a backup folder.

        A table of facts gives such a fact as a mapping from key to value."""
        if name not in self._keyed:
            self._keyed[name] = {}
        cached = self._keyed[name]
        if key not in cached:
            if self._host is None:
                given = self._cache.get(name)
                if not isinstance(given, Mapping) or key not in given:
                    raise UndeclaredFact(f"no value for fact {name}[{key}] was given")
                cached[key] = given[key]
            else:
                host = self._host
                keyed = keyed_collector_for(name, host.platform)
                if keyed is None:
                    cached[key] = CollectError(f"{name} is not collected on {host.platform}")
                else:
                    cached[key] = _collected(name, lambda: keyed(host, key))
        return _value_or_raise(cached[key])


def _collected(name: FactName, collect: Any) -> Any:
    try:
        return collect()
    except CollectError as exc:
        return exc
    except Exception as exc:
        # Kept as the fact's value so every check needing it reports one clear error.
        return CollectError(f"collecting {name} failed: {type(exc).__name__}: {exc}")


def _value_or_raise(value: Any) -> Any:
    if isinstance(value, CollectError):
        raise value
    return value


class Facts:
    """What one check may read: only the facts its registry entry declares."""

    def __init__(self, source: FactSource, declared: frozenset[FactName]) -> None:
        self._source = source
        self._declared = declared

    def _get(self, name: FactName) -> Any:
        if name not in self._declared:
            raise UndeclaredFact(f"the check reads fact {name!s} without declaring it")
        return self._source.get(name)

    def _get_keyed(self, name: FactName, key: str) -> Any:
        if name not in self._declared:
            raise UndeclaredFact(f"the check reads fact {name!s} without declaring it")
        assert name in KEYED_FACTS
        return self._source.get_keyed(name, key)

    @property
    def users(self) -> tuple[UserAccount, ...]:
        return cast(tuple[UserAccount, ...], self._get(FactName.USERS))

    @property
    def groups(self) -> tuple[GroupEntry, ...]:
        return cast(tuple[GroupEntry, ...], self._get(FactName.GROUPS))

    @property
    def shadow(self) -> tuple[ShadowEntry, ...]:
        return cast(tuple[ShadowEntry, ...], self._get(FactName.SHADOW))

    @property
    def login_defs(self) -> LoginDefs:
        return cast(LoginDefs, self._get(FactName.LOGIN_DEFS))

    @property
    def pwquality(self) -> PwQuality:
        return cast(PwQuality, self._get(FactName.PWQUALITY))

    @property
    def listening_sockets(self) -> tuple[ListeningSocket, ...]:
        return cast(tuple[ListeningSocket, ...], self._get(FactName.LISTENING_SOCKETS))

    @property
    def reboot_required(self) -> RebootRequired:
        return cast(RebootRequired, self._get(FactName.REBOOT_REQUIRED))

    @property
    def os_release(self) -> OsRelease:
        return cast(OsRelease, self._get(FactName.OS_RELEASE))

    @property
    def sshd_config(self) -> SshdConfig:
        return cast(SshdConfig, self._get(FactName.SSHD_CONFIG))

    @property
    def scheduled_jobs(self) -> tuple[ScheduledJob, ...]:
        return cast(tuple[ScheduledJob, ...], self._get(FactName.SCHEDULED_JOBS))

    @property
    def sudo_rules(self) -> tuple[SudoRule, ...]:
        return cast(tuple[SudoRule, ...], self._get(FactName.SUDO_RULES))

    @property
    def time_sync(self) -> TimeSync:
        return cast(TimeSync, self._get(FactName.TIME_SYNC))

    @property
    def mac_state(self) -> MacState:
        return cast(MacState, self._get(FactName.MAC_STATE))

    @property
    def pam_lockout(self) -> PamLockout:
        return cast(PamLockout, self._get(FactName.PAM_LOCKOUT))

    @property
    def pam_history(self) -> PamHistory:
        return cast(PamHistory, self._get(FactName.PAM_HISTORY))

    @property
    def log_setup(self) -> LogSetup:
        return cast(LogSetup, self._get(FactName.LOG_SETUP))

    @property
    def special_files(self) -> SpecialFiles:
        return cast(SpecialFiles, self._get(FactName.SPECIAL_FILES))

    @property
    def desktop_settings(self) -> DesktopSettings:
        return cast(DesktopSettings, self._get(FactName.DESKTOP_SETTINGS))

    @property
    def authorized_keys(self) -> tuple[AuthorizedKey, ...]:
        return cast(tuple[AuthorizedKey, ...], self._get(FactName.AUTHORIZED_KEYS))

    @property
    def pending_updates(self) -> tuple[PendingUpdate, ...]:
        return cast(tuple[PendingUpdate, ...], self._get(FactName.PENDING_UPDATES))

    @property
    def sensitive_files(self) -> tuple[FileStat, ...]:
        return cast(tuple[FileStat, ...], self._get(FactName.SENSITIVE_FILES))

    @property
    def clock(self) -> Clock:
        return cast(Clock, self._get(FactName.CLOCK))

    @property
    def packages(self) -> tuple[InstalledPackage, ...]:
        return cast(tuple[InstalledPackage, ...], self._get(FactName.PACKAGES))

    @property
    def package_activity(self) -> PackageActivity:
        return cast(PackageActivity, self._get(FactName.PACKAGE_ACTIVITY))

    @property
    def kernels(self) -> Kernels:
        return cast(Kernels, self._get(FactName.KERNELS))

    @property
    def processes(self) -> tuple[ProcessInfo, ...]:
        return cast(tuple[ProcessInfo, ...], self._get(FactName.PROCESSES))

    @property
    def antivirus(self) -> Antivirus:
        return cast(Antivirus, self._get(FactName.ANTIVIRUS))

    @property
    def last_logins(self) -> LastLogins:
        return cast(LastLogins, self._get(FactName.LAST_LOGINS))

    def weak_passwords(self, organisation_words: Sequence[str] = ()) -> WeakPasswords:
        """Keyed by the organisation's words; a table of facts gives it under their key
        (``organisation_key``, "" for none)."""
        key = organisation_key(organisation_words)
        return cast(WeakPasswords, self._get_keyed(FactName.WEAK_PASSWORDS, key))

    @property
    def listening_programs(self) -> tuple[ListeningProgram, ...]:
        return cast(tuple[ListeningProgram, ...], self._get(FactName.LISTENING_PROGRAMS))

    @property
    def firewall(self) -> Firewall:
        return cast(Firewall, self._get(FactName.FIREWALL))

    @property
    def network_interfaces(self) -> tuple[NetworkInterface, ...]:
        return cast(tuple[NetworkInterface, ...], self._get(FactName.NETWORK_INTERFACES))

    @property
    def windows_system(self) -> WindowsSystem:
        return cast(WindowsSystem, self._get(FactName.WINDOWS_SYSTEM))

    @property
    def windows_exposure(self) -> Exposure:
        return cast(Exposure, self._get(FactName.WINDOWS_EXPOSURE))

    @property
    def windows_defender(self) -> DefenderState:
        return cast(DefenderState, self._get(FactName.WINDOWS_DEFENDER))

    @property
    def windows_security_center(self) -> SecurityCenter:
        return cast(SecurityCenter, self._get(FactName.WINDOWS_SECURITY_CENTER))

    @property
    def windows_accounts(self) -> WindowsAccounts:
        return cast(WindowsAccounts, self._get(FactName.WINDOWS_ACCOUNTS))

    @property
    def windows_desktop(self) -> WindowsDesktop:
        return cast(WindowsDesktop, self._get(FactName.WINDOWS_DESKTOP))

    def scan_log(self, path: str) -> ScanLog:
        return cast(ScanLog, self._get_keyed(FactName.SCAN_LOG, path))

    def backup_location(self, path: str) -> BackupLocation:
        return cast(BackupLocation, self._get_keyed(FactName.BACKUP_LOCATION, path))
