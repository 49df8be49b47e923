"""Console accounts as an administrator manages them (POLICY.md E16, E18: one account per
person, rights reviewed, accounts of people who left disabled).

Built on ``server/store/accounts.py`` (create_user, set_password). The guard: the console always
keeps at least one active admin, and an admin never demotes or disables their own account (the
next request would lock them out of these pages); another admin does that.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from server.security import new_password
from server.store.accounts import AccountError, create_user, set_password
from server.store.models import ROLES, ConsoleSession, LoginFailure, User, utcnow


class AccountRefused(AccountError):
    """The change would break a guard; the message (English) says which. Nothing changed."""


@dataclass(frozen=True)
class AccountRow:
    id: int
    name: str
    role: str
    created_at: datetime.datetime
    last_login_at: datetime.datetime | None
    password_changed_at: datetime.datetime | None
    must_change_password: bool
    disabled: bool
    locked: bool  # a login lockout is in force for this name from some address


def _locked_names(session: Session) -> set[str]:
    """Names with a lockout in force. The failure key is ``address|name`` and an address never
    holds "|", so the name is everything after the first one."""
    keys = session.scalars(select(LoginFailure.key).where(LoginFailure.locked_until > utcnow()))
    return {key.split("|", 1)[1] for key in keys if "|" in key}


def list_accounts(session: Session) -> list[AccountRow]:
    locked = _locked_names(session)
    users = session.scalars(select(User).order_by(User.name))
    return [
        AccountRow(
            id=user.id,
            name=user.name,
            role=user.role,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
            password_changed_at=user.password_changed_at,
            must_change_password=user.must_change_password,
            disabled=user.disabled_at is not None,
            locked=user.name in locked,
        )
        for user in users
    ]


def add_account(session: Session, name: str, role: str) -> str:
    """Create the account and return its one-time password (shown once; changed at first
    login), like ``xunjian server user add``."""
    password = new_password()
    create_user(session, name, role, password)
    return password


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise AccountError(f"no user with id {user_id}")
    return user


def _lock_active_admins(session: Session) -> int:
    """Count the active admins, holding their rows (PostgreSQL: FOR UPDATE) so two admins
    demoting each other at the same moment cannot both pass the last-admin guard. On SQLite the
    caller's earlier write already holds the database's one write lock."""
    ids = session.scalars(
        select(User.id).where(User.role == "admin", User.disabled_at.is_(None)).with_for_update()
    ).all()
    return len(ids)


def _refuse_self(actor: User, target: User, change: str) -> None:
    if target.id == actor.id:
        raise AccountRefused(
            f"you cannot {change} your own account; another admin can (so the console is "
            "never left without an admin by mistake)"
        )


def _refuse_no_admin_left(session: Session, change: str) -> None:
    session.flush()
    if _lock_active_admins(session) < 1:
        raise AccountRefused(f"cannot {change} the last active admin")


def change_role(session: Session, actor: User, user_id: int, role: str) -> User:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    target = _user(session, user_id)
    if target.role == role:
        return target
    _refuse_self(actor, target, "change the role of")
    was_admin = target.role == "admin"
    target.role = role
    if was_admin:
        _refuse_no_admin_left(session, "demote")
    return target


def set_disabled(session: Session, actor: User, user_id: int, disabled: bool) -> User:
    """Disable (no login, sessions end, API tokens refused) or enable an account."""
    target = _user(session, user_id)
    if disabled == (target.disabled_at is not None):
        return target
    if not disabled:
        target.disabled_at = None
        return target
    _refuse_self(actor, target, "disable")
    target.disabled_at = utcnow()
    if target.role == "admin":
        _refuse_no_admin_left(session, "disable")
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == target.id))
    return target


def reset_password(session: Session, user_id: int) -> tuple[User, str]:
    """A new one-time password (shown once) that must be changed at the next login; every
    session of the person ends and any login lockout on their name is lifted."""
    target = _user(session, user_id)
    password = new_password()
    set_password(session, target, password)  # also ends the person's sessions
    target.must_change_password = True
    pattern = "%|" + target.name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    candidates = session.scalars(
        select(LoginFailure.key).where(LoginFailure.key.like(pattern, escape="\\"))
    )
    # LIKE also matches a longer name ending in "|name"; keep the exact ones.
    keys = [key for key in candidates if key.split("|", 1)[-1] == target.name]
    if keys:
        session.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys)))
    return target, password


def active_admin_count(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).where(User.role == "admin", User.disabled_at.is_(None)))
        or 0
    )
