"""Windows collectors: registry hives read with regipy (checks/collectors/windows/hives.py).

Their table names each collector by its function in ``facts.py`` and imports that module on
first use: importing ``checks`` stays standard-library only (tests/checks/test_registry.py),
and regipy and cryptography load only when a Windows host is scanned.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from checks.collectors.linux.system import collect_clock
from checks.facts import FactName
from checks.host import HostContext

_FUNCTIONS: dict[FactName, str] = {
    FactName.WINDOWS_SYSTEM: "collect_windows_system",
    FactName.WINDOWS_EXPOSURE: "collect_windows_exposure",
    FactName.WINDOWS_DEFENDER: "collect_windows_defender",
    FactName.WINDOWS_SECURITY_CENTER: "collect_windows_security_center",
    FactName.WINDOWS_ACCOUNTS: "collect_windows_accounts",
    FactName.WINDOWS_DESKTOP: "collect_windows_desktop",
    FactName.PACKAGES: "collect_windows_packages",
    FactName.PENDING_UPDATES: "collect_windows_pending_updates",
    FactName.LISTENING_SOCKETS: "collect_windows_listening_sockets",
    FactName.LISTENING_PROGRAMS: "collect_windows_listening_programs",
}


def _lazy(function: str) -> Callable[..., Any]:
    def collect(host: HostContext, *key: str) -> Any:
        module = importlib.import_module("checks.collectors.windows.facts")
        return getattr(module, function)(host, *key)

    collect.__name__ = function
    return collect


WINDOWS_COLLECTORS: dict[FactName, Callable[[HostContext], Any]] = {
    FactName.CLOCK: collect_clock,  # the scan's time: the same on every platform
    **{fact: _lazy(function) for fact, function in _FUNCTIONS.items()},
}
# Facts that depend on a policy value, collected once per value.
WINDOWS_KEYED_COLLECTORS: dict[FactName, Callable[[HostContext, str], Any]] = {
    FactName.WEAK_PASSWORDS: _lazy("collect_windows_weak_passwords"),
}
