"""What the incident tests share: an alert from a real signed report, and console clients."""

from __future__ import annotations

from sqlalchemy import select

from server.alerts.models import Alert
from tests.server.conftest import Server, SignedAgent
from tests.server.test_alerts import result, send


def failing_alert(server: Server, agent: SignedAgent, check: str = "accounts.uid0_extra") -> int:
    """A critical check_failed alert, opened by a real report from ``agent``."""
    send(agent, [result(check, "fail", "user:toor", severity="critical")])
    with server.state.sessions() as session:
        return int(session.scalars(select(Alert.id).where(Alert.check_id == check)).one())
