"""Names the service, the installer and the console share (one definition; see
docs/windows-deploy.md). The MSI builder reads them from here, so the service registered by
the installer and the one the code hosts cannot differ."""

from __future__ import annotations

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
    """``%ProgramData%\\xunjian\\agent``, as ``xunjian.core.paths.default_agent_state`` says on
    Windows (``XUNJIAN_STATE`` still wins, for tests)."""
    from xunjian.core.paths import default_agent_state

    return default_agent_state()
