"""Enrollment tokens and API tokens as an administrator manages them in the console.

Built on ``server/store/agents.py`` (create_enrollment_token) and ``server/store/accounts.py``
(create_api_token). A token is shown once, when it is made; lists show its prefix only (the
store keeps nothing else of it but its SHA-256). The enroll line and the lifetime words ("24h")
are here too: ``xunjian server token create`` and the console's Settings page print and read the
same.
"""

from __future__ import annotations

import datetime
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.config import DataPaths
from server.store.accounts import create_api_token
from server.store.agents import create_enrollment_token
from server.store.models import ApiToken, EnrollmentToken, Group, User, utcnow
from xunjian.core.wire import certificate_sha256

MAX_ENROLLMENT_USES = 10_000
MAX_TOKEN_NAME = 100
LIST_LIMIT = 500  # newest first; older ones are long expired or revoked
MAX_TOKEN_LIFETIME = datetime.timedelta(days=365)
_LIFETIME = re.compile(r"([1-9][0-9]{0,6})([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class TokenError(ValueError):
    """A token cannot be made or found; the message (English) says why. Nothing changed."""


@dataclass(frozen=True)
class EnrollmentTokenRow:
    id: int
    prefix: str
    group: str
    uses_left: int
    created_at: datetime.datetime
    expires_at: datetime.datetime
    revoked_at: datetime.datetime | None

    @property
    def state(self) -> str:
        """One of: active, expired, used_up, revoked."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= utcnow():
            return "expired"
        if self.uses_left <= 0:
            return "used_up"
        return "active"


def group_names(session: Session) -> list[str]:
    return list(session.scalars(select(Group.name).order_by(Group.name)))


def new_enrollment_token(
    session: Session, group: str, uses: int, lifetime: datetime.timedelta
) -> str:
    """A token for an existing group (groups are made on the policy pages); shown once."""
    if not 1 <= uses <= MAX_ENROLLMENT_USES:
        raise TokenError(f"uses must be 1..{MAX_ENROLLMENT_USES}")
    if session.scalar(select(Group.id).where(Group.name == group)) is None:
        raise TokenError(f"no group named {group!r}")
    return create_enrollment_token(session, group, uses, lifetime)


def list_enrollment_tokens(session: Session) -> list[EnrollmentTokenRow]:
    rows = session.execute(
        select(
            EnrollmentToken.id,
            EnrollmentToken.prefix,
            Group.name,
            EnrollmentToken.uses_left,
            EnrollmentToken.created_at,
            EnrollmentToken.expires_at,
            EnrollmentToken.revoked_at,
        )
        .join(Group, Group.id == EnrollmentToken.group_id)
        .order_by(EnrollmentToken.id.desc())
        .limit(LIST_LIMIT)
    ).all()
    return [EnrollmentTokenRow(*row) for row in rows]


def revoke_enrollment_token(session: Session, token_id: int) -> str:
    """Refuse the token from now on; agents it enrolled stay enrolled. Returns its prefix."""
    prefix = session.scalar(select(EnrollmentToken.prefix).where(EnrollmentToken.id == token_id))
    if prefix is None:
        raise TokenError(f"no enrollment token with id {token_id}")
    # uses_left = 0 is what enrollment checks (a conditional decrement), so a revoke racing an
    # enrollment either comes first (refused) or after (that one agent got in).
    session.execute(
        update(EnrollmentToken)
        .where(EnrollmentToken.id == token_id, EnrollmentToken.revoked_at.is_(None))
        .values(uses_left=0, revoked_at=utcnow())
    )
    return prefix


@dataclass(frozen=True)
class ApiTokenRow:
    id: int
    prefix: str
    name: str
    user: str
    role: str
    user_disabled: bool
    created_at: datetime.datetime
    last_used_at: datetime.datetime | None
    revoked_at: datetime.datetime | None


def new_api_token(session: Session, user_id: int, name: str) -> tuple[User, str]:
    """A token acting as that (active) user, with the user's role; shown once."""
    user = session.get(User, user_id)
    if user is None or user.disabled_at is not None:
        raise TokenError("choose an active user")
    name = name.strip()
    if len(name) > MAX_TOKEN_NAME or not name.isprintable():
        raise TokenError(f"a token's name is at most {MAX_TOKEN_NAME} printable characters")
    return user, create_api_token(session, user, name)


def list_api_tokens(session: Session) -> list[ApiTokenRow]:
    rows = session.execute(
        select(
            ApiToken.id,
            ApiToken.prefix,
            ApiToken.name,
            User.name,
            User.role,
            User.disabled_at.is_not(None),
            ApiToken.created_at,
            ApiToken.last_used_at,
            ApiToken.revoked_at,
        )
        .join(User, User.id == ApiToken.user_id)
        .order_by(ApiToken.id.desc())
        .limit(LIST_LIMIT)
    ).all()
    return [ApiTokenRow(*row) for row in rows]


def revoke_api_token_by_id(session: Session, token_id: int) -> str:
    """Refuse the token from its next request on. Returns its prefix."""
    prefix = session.scalar(select(ApiToken.prefix).where(ApiToken.id == token_id))
    if prefix is None:
        raise TokenError(f"no API token with id {token_id}")
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return prefix


def parse_lifetime(text: str) -> datetime.timedelta:
    """An enrollment token's lifetime written as 30m, 24h or 7d (at most 365d)."""
    match = _LIFETIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"--expires wants a lifetime such as 30m, 24h or 7d, not {text!r}")
    lifetime = datetime.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if lifetime > MAX_TOKEN_LIFETIME:
        raise ValueError("--expires may be at most 365d")
    return lifetime


# The name the console serves the MSI under, and the one its msiexec line installs.
MSI_DOWNLOAD_NAME = "xunjian-agent.msi"


def msiexec_line(server_url: str, token: str, paths: DataPaths) -> str:
    """The silent Windows install with the same enrollment (docs/windows-deploy.md)."""
    ca_hash = certificate_sha256(paths.ca_cert.read_bytes())
    return (
        f"msiexec /i {MSI_DOWNLOAD_NAME} /qn SERVERURL={server_url} TOKEN={token} "
        f"CASHA256={ca_hash}"
    )


def offered_msi(paths: DataPaths) -> Path | None:
    """The newest ``xunjian-agent-VERSION-x64.msi`` in the data folder's downloads/, if any
    (put there by ``xunjian build windows-msi --out DATA/downloads`` or by hand)."""
    found = sorted(paths.downloads.glob("xunjian-agent-*-x64.msi"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def enroll_line(server_url: str, token: str, paths: DataPaths) -> str:
    """The command a person pastes on a host to enroll it (CLI and console print the same)."""
    ca_hash = certificate_sha256(paths.ca_cert.read_bytes())
    return (
        f"xunjian agent enroll --server {shlex.quote(server_url)} --token {token} "
        f"--ca-sha256 {ca_hash}"
    )
