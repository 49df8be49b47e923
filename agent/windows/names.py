"""Names the service, the installer and the console share (one definition; see
docs/windows-deploy.md). The MSI builder reads them from here, so the service registered by
the installer and the one the code hosts cannot differ."""

from __future__ import annotations

import os
from pathlib import Path

SERVICE_NAME = "xunjian-agent"
DISPLAY_NAME = "巡检代理 xunjian agent"
DESCRIPTION = (
    "巡检 xunjian: 按信息管理制度检查本机并向服务器报告 / "
    "checks this PC against the information management rules and reports to the server"
)
# The Application event log source the installer registers and the service writes to.
EVENT_SOURCE = SERVICE_NAME
# The SCM waits this long after a stop request before it gives up on the service: the agent
# checks its stop flag every second and abandons a running scan (redone next time).
STOP_WAIT_HINT_MS = 30_000
# Recovery: restart after 1, 1 and 5 minutes; the failure count resets after a day.
RECOVERY_DELAYS_MS = (60_000, 60_000, 300_000)
RECOVERY_RESET_SECONDS = 86_400

# What the installer leaves for the first start: server URL, token and CA pin (staged.py).
STAGED_ENROLLMENT_NAME = "install-enrollment.json"
LOG_NAME = "agent.log"
LOG_MAX_BYTES = 1024 * 1024
LOG_BACKUPS = 5


def state_directory() -> Path:
    """``%ProgramData%\\xunjian\\agent`` (``XUNJIAN_STATE`` still wins, for tests). The folder
    comes from the shell's known-folder API, not the environment: the installer's custom
    action and the service must agree, and their environments need not (under wine the
    service's ProgramData variable names C:\\users\\Public)."""
    from xunjian.core.paths import default_agent_state

    if os.environ.get("XUNJIAN_STATE") or os.name != "nt":
        return default_agent_state()
    return known_program_data() / "xunjian" / "agent"


def known_program_data() -> Path:
    """SHGetKnownFolderPath(FOLDERID_ProgramData) through ctypes (Windows only)."""
    import ctypes
    import uuid
    from ctypes import wintypes

    folder_id = uuid.UUID("62AB5D82-FDC1-4DC3-A9DD-070D1D495D97")  # FOLDERID_ProgramData
    guid = (ctypes.c_byte * 16).from_buffer_copy(folder_id.bytes_le)
    found = ctypes.c_wchar_p()
    shell32 = ctypes.windll.shell32  # type: ignore[attr-defined]
    shell32.SHGetKnownFolderPath.argtypes = [ctypes.c_void_p, wintypes.DWORD, wintypes.HANDLE,
                                             ctypes.POINTER(ctypes.c_wchar_p)]  # fmt: skip
    if shell32.SHGetKnownFolderPath(ctypes.byref(guid), 0, None, ctypes.byref(found)) != 0:
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData"))
    try:
        return Path(found.value or r"C:\ProgramData")
    finally:
        ctypes.windll.ole32.CoTaskMemFree(found)  # type: ignore[attr-defined]
