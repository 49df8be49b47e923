"""Service settings the MSI cannot set through wixl (docs/windows-deploy.md): wixl 0.101 has
no ``ServiceConfig``/``util:ServiceConfig`` (MsiServiceConfig, MsiServiceConfigFailureActions
tables), so the installer's deferred custom action sets delayed auto-start and the recovery
actions with ChangeServiceConfig2, behind :class:`ServiceConfigApi`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from agent.windows import names

# winsvc.h SC_ACTION_RESTART; winerror.h ERROR_INVALID_LEVEL (a level this SCM lacks: wine 8
# has no SERVICE_CONFIG_DELAYED_AUTO_START_INFO).
SC_ACTION_RESTART = 1
ERROR_INVALID_LEVEL = 124

log = logging.getLogger("xunjian.agent.windows")


class ServiceConfigError(OSError):
    """A service-manager call failed; ``code`` is its Windows error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} (error {code})")
        self.code = code


class ServiceConfigApi(Protocol):
    def set_delayed_auto_start(self, service: str) -> None: ...

    def set_restart_actions(
        self, service: str, delays_ms: Sequence[int], reset_seconds: int
    ) -> None: ...


def configure_service(api: ServiceConfigApi) -> None:
    """Delayed auto-start; restart after 1, 1 and 5 minutes (names.RECOVERY_DELAYS_MS). A
    service manager without delayed auto-start (wine) leaves plain auto-start, with a
    warning; any other failure raises :class:`ServiceConfigError`."""
    try:
        api.set_delayed_auto_start(names.SERVICE_NAME)
    except ServiceConfigError as exc:
        if exc.code != ERROR_INVALID_LEVEL:
            raise
        log.warning("this service manager has no delayed auto-start; plain auto-start: %s", exc)
    api.set_restart_actions(
        names.SERVICE_NAME, names.RECOVERY_DELAYS_MS, names.RECOVERY_RESET_SECONDS
    )


class Win32ServiceConfigApi:
    """:class:`ServiceConfigApi` through pywin32's win32service (Windows only)."""

    def __init__(self) -> None:
        import win32service

        self._ws: Any = win32service

    def _change(self, service: str, level: int, value: Any) -> None:
        import pywintypes

        ws = self._ws
        try:
            manager = ws.OpenSCManager(None, None, ws.SC_MANAGER_CONNECT)
            try:
                access = ws.SERVICE_CHANGE_CONFIG | ws.SERVICE_START
                handle = ws.OpenService(manager, service, access)
                try:
                    ws.ChangeServiceConfig2(handle, level, value)
                finally:
                    ws.CloseServiceHandle(handle)
            finally:
                ws.CloseServiceHandle(manager)
        except pywintypes.error as exc:
            raise ServiceConfigError(exc.winerror, f"{exc.funcname}: {exc.strerror}") from exc

    def set_delayed_auto_start(self, service: str) -> None:
        self._change(service, self._ws.SERVICE_CONFIG_DELAYED_AUTO_START_INFO, True)

    def set_restart_actions(
        self, service: str, delays_ms: Sequence[int], reset_seconds: int
    ) -> None:
        actions = {
            "ResetPeriod": reset_seconds,
            "RebootMsg": None,
            "Command": None,
            "Actions": [(SC_ACTION_RESTART, delay) for delay in delays_ms],
        }
        self._change(service, self._ws.SERVICE_CONFIG_FAILURE_ACTIONS, actions)
