"""The pywin32 service class and its host (docs/windows-deploy.md).

The installer registers ``pythonw.exe -B -m agent.windows`` as the service ``xunjian-agent``
(LocalSystem, delayed auto-start). With no arguments, ``agent.windows.__main__`` hands the
process to the SCM through pywin32's ``servicemanager`` (the "single hosted service" form used
by frozen executables, so no pythonservice.exe and no registry class entries are needed).

pywin32 is imported inside :func:`make_service_class`, never at module import: the tests put
stand-ins for its modules in ``sys.modules`` and drive the class through its SCM callbacks.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from agent.windows import logs, names
from agent.windows.acl import SecurityApi
from agent.windows.body import ServiceBody

log = logging.getLogger("xunjian.agent.windows")


def make_service_class(
    state_dir: Path | None = None,
    security: SecurityApi | None = None,
    event_log: logs.EventLogFactory = logs.windows_event_log,
) -> type:
    """The ``win32serviceutil.ServiceFramework`` subclass for ``xunjian-agent``. Defaults:
    the state folder under %ProgramData% and the real Windows ACL calls."""
    import servicemanager
    import win32service
    import win32serviceutil

    class XunjianAgentService(win32serviceutil.ServiceFramework):  # type: ignore[misc]
        _svc_name_ = names.SERVICE_NAME
        _svc_display_name_ = names.DISPLAY_NAME
        _svc_description_ = names.DESCRIPTION

        def __init__(self, args: Any) -> None:
            super().__init__(args)
            directory = state_dir or names.state_directory()
            api = security
            if api is None:
                from agent.windows.acl import Win32SecurityApi

                api = Win32SecurityApi()
            self.state_dir = directory
            self.body = ServiceBody(directory, api)

        def GetAcceptedControls(self) -> int:
            # Shutdown too: at power-off the SCM gives services a short while, and a clean
            # spool close then is worth having.
            accepted: int = super().GetAcceptedControls()
            return accepted | win32service.SERVICE_ACCEPT_SHUTDOWN

        def SvcStop(self) -> None:
            # STOP_PENDING with a wait hint first: the SCM then waits that long for STOPPED,
            # which the framework reports once SvcDoRun returns.
            self.ReportServiceStatus(
                win32service.SERVICE_STOP_PENDING, waitHint=names.STOP_WAIT_HINT_MS
            )
            log.info("stop requested by the service control manager")
            self.body.stop()

        def SvcShutdown(self) -> None:
            self.SvcStop()

        def SvcDoRun(self) -> None:
            logs.configure(self.state_dir, event_log)
            servicemanager.LogInfoMsg(f"{names.SERVICE_NAME}: starting")
            log.info("service starting (state folder %s)", self.state_dir)
            status = self.body.run()
            if status != 0:
                # A non-zero exit code makes the SCM apply the recovery actions (restart).
                servicemanager.LogErrorMsg(f"{names.SERVICE_NAME}: stopped on an error")
                sys.exit(status)
            log.info("service stopped")

    return XunjianAgentService


def host_service() -> None:
    """Hand this process to the SCM as the one service it hosts (pythonw.exe -m agent.windows)."""
    import servicemanager

    servicemanager.Initialize()
    servicemanager.PrepareToHostSingle(make_service_class())
    servicemanager.StartServiceCtrlDispatcher()
