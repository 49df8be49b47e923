"""Agents: enrollment with a token, the identity lookup behind every signed request, heartbeats
and the commands they carry. The store is the bottom layer: what a heartbeat means to alerts is
done above it (``server/alerts/silent.py``)."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from server.security import new_token, token_digest, token_prefix
from server.store.models import (
    Agent,
    Command,
    EnrollmentToken,
    Group,
    LatestResult,
    ResultState,
    utcnow,
)

DEFAULT_GROUP = "default"


class EnrollmentRefused(Exception):
    """The token is unknown, expired or used up; the message is for the log, not the client."""


@dataclass(frozen=True)
class AgentIdentity:
    id: str
    public_key: str
    revoked: bool
    group_id: int


@dataclass(frozen=True)
class Enrolled:
    agent_id: str
    group: str


def get_or_create_group(session: Session, name: str) -> Group:
    group = session.scalar(select(Group).where(Group.name == name))
    if group is None:
        group = Group(name=name, policy={}, policy_version=1)
        session.add(group)
        session.flush()
    return group


def hosts_per_group(session: Session) -> dict[int, int]:
    """Hosts (not revoked, devices included) per group id; a group without any is absent."""
    rows = session.execute(
        select(Agent.group_id, func.count())
        .where(Agent.revoked_at.is_(None))
        .group_by(Agent.group_id)
    ).all()
    return {int(group_id): int(count) for group_id, count in rows}


def create_enrollment_token(
    session: Session, group_name: str, uses: int, lifetime: datetime.timedelta
) -> str:
    """Store a new token (its hash only) and return the token itself, to be shown once."""
    token = new_token("enroll")
    group = get_or_create_group(session, group_name)
    session.add(
        EnrollmentToken(
            token_sha256=token_digest(token),
            prefix=token_prefix(token),
            group_id=group.id,
            uses_left=uses,
            expires_at=utcnow() + lifetime,
        )
    )
    return token


def enroll_agent(engine: Engine, token: str, fields: dict[str, Any]) -> Enrolled:
    """Spend one use of ``token`` and create the agent, in one transaction."""
    now = utcnow()
    digest = token_digest(token)
    with engine.begin() as connection:
        # A conditional decrement, so two agents racing for a token's last use cannot both win.
        spent = connection.execute(
            update(EnrollmentToken)
            .where(
                EnrollmentToken.token_sha256 == digest,
                EnrollmentToken.uses_left > 0,
                EnrollmentToken.expires_at > now,
            )
            .values(uses_left=EnrollmentToken.uses_left - 1)
            .returning(EnrollmentToken.id, EnrollmentToken.group_id)
        ).first()
        if spent is None:
            raise EnrollmentRefused(_why_token_refused(connection, digest, now))
        token_id, group_id = spent
        agent_id = str(uuid.uuid4())
        connection.execute(
            insert(Agent).values(
                id=agent_id,
                public_key=fields["public_key"],
                hostname=fields["hostname"],
                os=fields["os"],
                platform=fields["platform"],
                agent_version=fields["agent_version"],
                group_id=group_id,
                enrollment_token_id=token_id,
                enrolled_at=now,
                last_seen=now,
            )
        )
        group_name = connection.execute(select(Group.name).where(Group.id == group_id)).scalar_one()
    return Enrolled(agent_id, group_name)


def _why_token_refused(connection: Any, digest: str, now: datetime.datetime) -> str:
    row = connection.execute(
        select(
            EnrollmentToken.uses_left,
            EnrollmentToken.expires_at,
            EnrollmentToken.prefix,
            EnrollmentToken.revoked_at,
        ).where(EnrollmentToken.token_sha256 == digest)
    ).first()
    if row is None:
        return "unknown enrollment token"
    if row.revoked_at is not None:
        return f"enrollment token {row.prefix}... was revoked"
    if row.expires_at <= now:
        return f"enrollment token {row.prefix}... expired"
    return f"enrollment token {row.prefix}... is used up"


# Runs before every signed request: built once, so only the compiled-cache lookup remains.
_FIND_AGENT = select(Agent.id, Agent.public_key, Agent.revoked_at, Agent.group_id).where(
    Agent.id == bindparam("agent_id")
)


def find_agent(engine: Engine, agent_id: str) -> AgentIdentity | None:
    with engine.connect() as connection:
        row = connection.execute(_FIND_AGENT, {"agent_id": agent_id}).first()
    if row is None:
        return None
    return AgentIdentity(row.id, row.public_key, row.revoked_at is not None, row.group_id)


def revoke_agent(session: Session, agent_id: str) -> bool:
    changed = session.execute(
        update(Agent)
        .where(Agent.id == agent_id, Agent.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(changed.rowcount)


def record_heartbeat(
    connection: Connection, agent_id: str, beat: dict[str, Any], now: datetime.datetime
) -> tuple[int, list[dict]]:
    """Record a heartbeat, acknowledge commands, and return (policy version, pending commands),
    on the caller's transaction: the agent API ends the agent's silent alert in the same one
    (``server/alerts/silent.py``, ``heartbeat``).

    A command stays pending, and is delivered again, until a later heartbeat acknowledges it.
    """
    # Writes first: on SQLite a transaction that starts with a write takes the write lock up
    # front, instead of failing to upgrade a read lock under concurrency.
    connection.execute(
        update(Agent)
        .where(Agent.id == agent_id)
        .values(
            last_seen=now,
            spool_depth=beat["spool_depth"],
            last_epoch=beat["epoch"],
            last_seq=beat["last_seq"],
            policy_version=beat["policy_version"],
        )
    )
    if beat["acked_commands"]:
        connection.execute(
            update(Command)
            .where(
                Command.agent_id == agent_id,
                Command.id.in_(beat["acked_commands"]),
                Command.acked_at.is_(None),
            )
            .values(acked_at=now)
        )
    pending = connection.execute(
        select(Command.id, Command.type, Command.payload)
        .where(Command.agent_id == agent_id, Command.acked_at.is_(None))
        .order_by(Command.created_at)
        .limit(100)
    ).all()
    if pending:
        connection.execute(
            update(Command)
            .where(Command.id.in_([row.id for row in pending]), Command.delivered_at.is_(None))
            .values(delivered_at=now)
        )
    version = connection.execute(
        select(Group.policy_version)
        .join(Agent, Agent.group_id == Group.id)
        .where(Agent.id == agent_id)
    ).scalar_one()
    return int(version), [
        {**(row.payload or {}), "id": row.id, "type": row.type} for row in pending
    ]


def queue_command(
    session: Session, agent_id: str, command_type: str, user_id: int | None
) -> Command:
    command = Command(
        id=str(uuid.uuid4()),
        agent_id=agent_id,
        type=command_type,
        created_at=utcnow(),
        created_by=user_id,
    )
    session.add(command)
    session.flush()
    return command


def delete_agent(session: Session, agent_id: str) -> None:
    """Delete a host: its agents row (the rows that keep a foreign key to it go with it, ON
    DELETE CASCADE), then its result states and latest results, which keep none (migration
    0025). In this order: on PostgreSQL the first DELETE waits for a report being written
    for the host, whose row holds the host's with its foreign key, and the two after it see
    what that report stored. The caller commits."""
    session.execute(delete(Agent).where(Agent.id == agent_id))
    session.execute(delete(ResultState).where(ResultState.agent_id == agent_id))
    session.execute(delete(LatestResult).where(LatestResult.agent_id == agent_id))
