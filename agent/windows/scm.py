"""Service settings the MSI cannot set through wixl (docs/windows-deploy.md): wixl 0.101 has
no ``ServiceConfig``/``util:ServiceConfig`` (MsiServiceConfig, MsiServiceConfigFailureActions
tables), so the installer's deferred custom action sets delayed auto-start and the recovery
actions with ChangeServiceConfig2, behind :class:`ServiceConfigApi`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
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
    def set_binary_path(self, service: str, command_line: str) -> None: ...

    def set_delayed_auto_start(self, service: str) -> None: ...

    def set_restart_actions(
        self, service: str, delays_ms: Sequence[int], reset_seconds: int
    ) -> None: ...


def service_command_line(python: str) -> str:
    """The service's command line, its program quoted: "C:\\Program Files\\..." unquoted
    would let Windows try C:\\Program.exe first (an unquoted service path)."""
    return f'"{python}" -B -m agent.windows'


def configure_service(api: ServiceConfigApi, python: str) -> None:
    """The quoted command line (wine's msiexec writes ImagePath unquoted); delayed
    auto-start; restart after 1, 1 and 5 minutes (names.RECOVERY_DELAYS_MS). A service
    manager without delayed auto-start (wine) leaves plain auto-start, with a warning; any
    other failure raises :class:`ServiceConfigError`."""
    api.set_binary_path(names.SERVICE_NAME, service_command_line(python))
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
        self._call(service, lambda handle: self._ws.ChangeServiceConfig2(handle, level, value))

    def _call(self, service: str, change: Callable[[Any], object]) -> None:
        import pywintypes

        ws = self._ws
        try:
            manager = ws.OpenSCManager(None, None, ws.SC_MANAGER_CONNECT)
            try:
                access = ws.SERVICE_CHANGE_CONFIG | ws.SERVICE_START
                handle = ws.OpenService(manager, service, access)
                try:
                    change(handle)
                finally:
                    ws.CloseServiceHandle(handle)
            finally:
                ws.CloseServiceHandle(manager)
        except pywintypes.error as exc:
            raise ServiceConfigError(exc.winerror, f"{exc.funcname}: {exc.strerror}") from exc

    def set_binary_path(self, service: str, command_line: str) -> None:
        ws = self._ws
        self._call(service, lambda handle: ws.ChangeServiceConfig(
            handle, ws.SERVICE_NO_CHANGE, ws.SERVICE_NO_CHANGE, ws.SERVICE_NO_CHANGE,
            command_line, None, 0, None, None, None, None,
        ))  # fmt: skip

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
