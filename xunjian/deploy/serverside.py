"""What the deployment asks of the server: it runs on the server's host with ``--data``.

Single-use enrollment tokens with a short expiry, the CA pin, whether an agent is known and
whether its first report is stored, revocation at uninstall, and the operation log entry of
every deployment (POLICY.md E12). The server's modules are imported when this is opened.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TOKEN_LIFETIME = datetime.timedelta(minutes=15)


class ServerSideError(Exception):
    """The data folder or its database cannot be used."""


class ServerSide:
    def __init__(self, data: Path, server_url: str | None = None) -> None:
        from server.commands import cli_actor
        from server.config import ConfigError, DataPaths, load_config
        from server.oplog.settings import OplogSettings
        from server.oplog.store import OperationLog
        from server.store.engine import make_engine, make_sessionmaker
        from xunjian.core.wire import certificate_sha256

        try:
            self.config = load_config(data)
            paths = DataPaths(data)
            self.ca_sha256 = certificate_sha256(paths.ca_cert.read_bytes())
            settings = OplogSettings.from_config(self.config)
        except (ConfigError, OSError, ValueError) as exc:
            raise ServerSideError(str(exc)) from exc
        self.data = data
        self.server_url = server_url or self.config.server_url
        self.engine = make_engine(self.config.database_url)
        self.sessions = make_sessionmaker(self.engine)
        self.oplog = OperationLog(self.engine, data, settings)
        self.actor = cli_actor()

    def close(self) -> None:
        self.engine.dispose()

    def create_token(self, group: str) -> str:
        from server.store.agents import create_enrollment_token

        with self.sessions() as session:
            token = create_enrollment_token(session, group, 1, TOKEN_LIFETIME)
            session.commit()
        return token

    def agent_state(self, agent_id: str) -> str:
        """ "active", "revoked" or "unknown"."""
        from server.store.models import Agent

        with self.sessions() as session:
            agent = session.get(Agent, agent_id)
            if agent is None:
                return "unknown"
            return "revoked" if agent.revoked_at is not None else "active"

    def has_report(self, agent_id: str) -> bool:
        from sqlalchemy import select

        from server.store.models import Report

        with self.sessions() as session:
            found = session.scalar(select(Report.id).where(Report.agent_id == agent_id).limit(1))
        return found is not None

    def revoke(self, agent_id: str) -> bool:
        from server.store.agents import revoke_agent

        with self.sessions() as session:
            changed = revoke_agent(session, agent_id)
            session.commit()
        return changed

    def record(
        self,
        action: str,
        *,
        target: str,
        outcome: str,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        from server.oplog.chain import EntryFields

        self.oplog.append(
            EntryFields.make(
                action,
                actor=self.actor,
                role="system",
                target=target,
                outcome=outcome,
                reason=reason,
                details=details,
            )
        )
