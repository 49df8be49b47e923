"""Facts collected once per scan and handed to checks through a typed, declared view."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from checks.collectors import COLLECTORS
from checks.errors import CollectError
from checks.facts import (
    Clock,
    FactName,
    FileStat,
    GroupEntry,
    ListeningSocket,
    LoginDefs,
    OsRelease,
    PendingUpdate,
    PwQuality,
    RebootRequired,
    ShadowEntry,
    SshdConfig,
    UserAccount,
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
            try:
                self._cache[name] = COLLECTORS[name](self._host)
            except CollectError as exc:
                self._cache[name] = exc
            except Exception as exc:
                # Kept as the fact's value so every check needing it reports one clear error.
                self._cache[name] = CollectError(
                    f"collecting {name} failed: {type(exc).__name__}: {exc}"
                )
        value = self._cache[name]
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
    def pending_updates(self) -> tuple[PendingUpdate, ...]:
        return cast(tuple[PendingUpdate, ...], self._get(FactName.PENDING_UPDATES))

    @property
    def sensitive_files(self) -> tuple[FileStat, ...]:
        return cast(tuple[FileStat, ...], self._get(FactName.SENSITIVE_FILES))

    @property
    def clock(self) -> Clock:
        return cast(Clock, self._get(FactName.CLOCK))
