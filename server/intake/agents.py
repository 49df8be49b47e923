"""The agent rows the signed agent API reads and touches, on the driver's own cursor where it is
hot (server/agent_api.py authenticates every request with ``agent_identity``)."""

from __future__ import annotations

import datetime
import hashlib
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, update
from sqlalchemy.exc import IntegrityError

from server.store.agents import AgentIdentity
from server.store.models import Agent, SeenSignature, utcnow

AGENTS = Agent.__table__
# SQLAlchemy's own text form of a DateTime on SQLite; rows written here must compare (as text)
# with rows written through the ORM.
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def placeholder(connection: Connection) -> str:
    """The driver's parameter mark: ``?`` (sqlite3) or ``%s`` (psycopg)."""
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


def time_param(connection: Connection, moment: datetime.datetime) -> Any:
    """A naive UTC time as the driver takes it for a DateTime column."""
    if connection.dialect.name == "sqlite":
        return moment.strftime(SQLITE_DATETIME)
    return moment


@cache
def _identity_sql(mark: str) -> str:
    return f"SELECT id, public_key, revoked_at, group_id FROM {AGENTS.name} WHERE id = {mark}"


def agent_identity(connection: Connection, agent_id: str) -> AgentIdentity | None:
    """``store.agents.find_agent`` on the request's connection, on the driver's cursor: what
    authenticating a signed request needs, read afresh (revocation included) every time."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_identity_sql(placeholder(connection)), (agent_id,))
        row = cursor.fetchone()
    finally:
        cursor.close()
    if row is None:
        return None
    return AgentIdentity(row[0], row[1], row[2] is not None, row[3])


def touch_agent(engine: Engine, agent_id: str, now: datetime.datetime | None = None) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(Agent).where(Agent.id == agent_id).values(last_seen=now or utcnow())
        )


def first_use(
    engine: Engine,
    signature: str,
    agent_id: str,
    window: datetime.timedelta,
    now: datetime.datetime | None = None,
) -> bool:
    """Remember a verified request's signature; False when it was seen already (a replay
    within the freshness window: the caller changes nothing). Rows older than twice the
    window go in the same transaction: a replay that old is refused as stale anyway."""
    moment = now or utcnow()
    digest = hashlib.sha256(signature.encode("ascii", "replace")).hexdigest()
    try:
        with engine.begin() as connection:
            connection.execute(
                delete(SeenSignature).where(SeenSignature.seen_at < moment - 2 * window)
            )
            connection.execute(
                insert(SeenSignature).values(digest=digest, agent_id=agent_id, seen_at=moment)
            )
    except IntegrityError:
        return False
    return True
