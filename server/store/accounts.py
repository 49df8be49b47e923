"""People: console users, their API tokens, console sessions and the failed-login counter."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from server.security import hash_password, new_token, token_digest, token_prefix
from server.store.models import ROLES, ApiToken, ConsoleSession, LoginFailure, User, utcnow

MAX_NAME_LENGTH = 64


class AccountError(Exception):
    """A user cannot be created or found; the message says why."""


def create_user(session: Session, name: str, role: str, password: str) -> User:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable() or name != name.strip():
        raise AccountError(f"a user name is 1..{MAX_NAME_LENGTH} printable characters")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise AccountError(f"user {name!r} already exists")
    user = User(
        name=name,
        role=role,
        password_hash=hash_password(password),
        must_change_password=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return user


def user_by_name(session: Session, name: str) -> User | None:
    """The active user of that name; a disabled account (console settings) is as absent."""
    return session.scalar(select(User).where(User.name == name, User.disabled_at.is_(None)))


def set_password(session: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.must_change_password = False
    user.password_changed_at = utcnow()
    # A new password ends every other session of this person.
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))


# -- API tokens -------------------------------------------------------------------------------


def create_api_token(session: Session, user: User, name: str) -> str:
    token = new_token("api")
    session.add(
        ApiToken(
            user_id=user.id,
            name=name[:100],
            token_sha256=token_digest(token),
            prefix=token_prefix(token),
            created_at=utcnow(),
        )
    )
    session.flush()
    return token


@dataclass(frozen=True)
class TokenOwner:
    token_id: int
    user_id: int
    user_name: str
    role: str


# last_used_at is for people reading a token list; minute precision saves a write per request.
LAST_USED_RESOLUTION = datetime.timedelta(seconds=60)
# A console session's last_seen_at is rewritten at most this often (or a tenth of the idle limit).
LAST_SEEN_RESOLUTION = datetime.timedelta(seconds=30)


def authenticate_api_token(session: Session, token: str) -> TokenOwner | None:
    row = session.execute(
        select(ApiToken.id, ApiToken.last_used_at, User.id, User.name, User.role)
        .join(User, User.id == ApiToken.user_id)
        .where(
            ApiToken.token_sha256 == token_digest(token),
            ApiToken.revoked_at.is_(None),
            User.disabled_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    token_id, last_used, user_id, user_name, role = row
    now = utcnow()
    if last_used is None or now - last_used > LAST_USED_RESOLUTION:
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
        session.commit()
    return TokenOwner(token_id, user_id, user_name, role)


def revoke_api_token(session: Session, token: str) -> bool:
    changed = session.execute(
        update(ApiToken)
        .where(ApiToken.token_sha256 == token_digest(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(changed.rowcount)


# -- console sessions -------------------------------------------------------------------------


def start_session(session: Session, user: User) -> str:
    """Create a console session and return its secret id (kept in the signed cookie)."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    user.last_login_at = now
    session.add(
        ConsoleSession(
            id_sha256=token_digest(secret), user_id=user.id, created_at=now, last_seen_at=now
        )
    )
    return secret


def resume_session(session: Session, secret: str, idle: datetime.timedelta) -> User | None:
    """The user of a live session, or None; an idle session is deleted, not resumed."""
    digest = token_digest(secret)
    record = session.get(ConsoleSession, digest)
    if record is None:
        return None
    now = utcnow()
    if now - record.last_seen_at > idle:
        session.delete(record)
        session.commit()
        return None
    user = session.get(User, record.user_id)
    if user is not None and user.disabled_at is not None:
        session.delete(record)  # disabling deletes sessions; this closes a race with a login
        session.commit()
        return None
    # Writing on every page view cost a write transaction per request (and on SQLite the one
    # write lock); a session may go idle up to this much sooner than the limit instead.
    if now - record.last_seen_at >= min(LAST_SEEN_RESOLUTION, idle / 10):
        record.last_seen_at = now
        session.commit()
    return user


def end_session(session: Session, secret: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.id_sha256 == token_digest(secret)))


# -- failed logins ----------------------------------------------------------------------------


def _failure_key(address: str, name: str) -> str:
    return f"{address[:64]}|{name[:MAX_NAME_LENGTH]}"


def locked_until(session: Session, address: str, name: str) -> datetime.datetime | None:
    record = session.get(LoginFailure, _failure_key(address, name))
    if record is None or record.locked_until is None or record.locked_until <= utcnow():
        return None
    return record.locked_until


def record_failure(
    session: Session, address: str, name: str, max_failures: int, lockout: datetime.timedelta
) -> bool:
    """Count a failed login; returns True when this failure starts a lockout.

    Failures older than the lockout period are forgotten, so a typo a week ago does not count.
    """
    key = _failure_key(address, name)
    now = utcnow()
    record = session.get(LoginFailure, key)
    if record is None or now - record.first_failure_at > lockout:
        if record is not None:
            session.delete(record)
            session.flush()
        record = LoginFailure(key=key, failures=0, first_failure_at=now)
        session.add(record)
    record.failures += 1
    starts_lockout = record.failures >= max_failures
    if starts_lockout:
        record.locked_until = now + lockout
        record.failures = 0
        record.first_failure_at = now
    return starts_lockout


def clear_failures(session: Session, address: str, name: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.key == _failure_key(address, name)))
