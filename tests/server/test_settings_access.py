"""Access settings: console accounts, enrollment and API tokens, run-time settings (retention,
session idle) that override config.json. Functions first, then the pages through the console."""

from __future__ import annotations

import datetime
import html
import json
import re
import threading
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient
from sqlalchemy import select, update
from werkzeug.test import TestResponse

from server.config import load_config
from server.oplog.models import OplogEntry
from server.security import verify_password
from server.settings.accounts import (
    AccountRefused,
    add_account,
    change_role,
    list_accounts,
    reset_password,
    set_disabled,
)
from server.settings.runtime import (
    SettingError,
    effective_settings,
    reset_setting,
    set_setting,
)
from server.settings.tokens import (
    TokenError,
    list_api_tokens,
    list_enrollment_tokens,
    new_api_token,
    new_enrollment_token,
    revoke_api_token_by_id,
    revoke_enrollment_token,
)
from server.settings.views import add_settings_section
from server.store.accounts import (
    authenticate_api_token,
    record_failure,
    resume_session,
    start_session,
    user_by_name,
)
from server.store.models import ConsoleSession, LoginFailure, User, utcnow
from tests.console_text import text
from tests.server.conftest import Server, SignedAgent, run_xunjian
from xunjian.core.wire import certificate_sha256

HOUR = datetime.timedelta(hours=1)


# -- run-time settings ------------------------------------------------------------------------


def test_config_json_applies_until_a_setting_is_changed_then_the_row_wins(server: Server) -> None:
    config = server.state.config
    with server.state.sessions() as session:
        start = effective_settings(session, config)
        assert start.oplog_retention_days == 180
        assert start.session_idle_seconds == config.session_idle_seconds
        assert start.overrides == {}
        set_setting(session, "oplog_retention_days", 90, "admin")
        session.commit()
    with server.state.sessions() as session:
        now = effective_settings(session, config)
        assert now.oplog_retention_days == 90 and now.source("oplog_retention_days") == "console"
        assert now.overrides["oplog_retention_days"][2] == "admin"
        # A second save updates the row (an upsert), it does not add one.
        set_setting(session, "oplog_retention_days", 120, "other")
        session.commit()
        assert effective_settings(session, config).oplog_retention_days == 120
        assert reset_setting(session, "oplog_retention_days") is True
        session.commit()
        assert effective_settings(session, config).oplog_retention_days == 180


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("oplog_retention_days", 59, "at least 60 days"),
        ("oplog_retention_days", 0, "at least 60 days"),
        ("oplog_retention_days", 100 * 365 + 1, "at most"),
        ("oplog_retention_days", True, "whole number"),
        ("session_idle_seconds", 0, "at least 1"),
        ("session_idle_seconds", 24 * 3600 + 1, "at most"),
        ("workers", 4, "cannot be changed at run time"),
    ],
)
def test_values_config_json_would_refuse_are_refused(
    server: Server, name: str, value: object, why: str
) -> None:
    with server.state.sessions() as session:
        with pytest.raises(SettingError, match=why):
            set_setting(session, name, value, "admin")  # type: ignore[arg-type]
        session.rollback()
        assert effective_settings(session, server.state.config).overrides == {}


def test_a_row_that_breaks_the_rule_is_ignored_not_applied(server: Server) -> None:
    from server.settings.models import RuntimeSetting

    with server.state.sessions() as session:
        session.add(
            RuntimeSetting(
                name="oplog_retention_days", value=10, updated_at=utcnow(), updated_by="hand"
            )
        )
        session.add(
            RuntimeSetting(name="no_such_setting", value=1, updated_at=utcnow(), updated_by="x")
        )
        session.commit()
        effective = effective_settings(session, server.state.config)
    assert effective.oplog_retention_days == 180 and effective.overrides == {}


def test_the_oplog_purge_command_uses_the_run_time_retention(server: Server) -> None:
    old = utcnow() - datetime.timedelta(days=100)
    status, out, err = run_xunjian("server", "oplog", "purge", "--data", str(server.data))
    assert status == 0, err
    with server.state.sessions() as session:
        # Two entries made 100 days ago: inside 180 days, outside 90.
        session.execute(update(OplogEntry).values(at=old))
        session.commit()
    status, out, err = run_xunjian("server", "oplog", "purge", "--data", str(server.data))
    assert status == 0, err
    assert "purged 0 " in out and "(180 days)" in out
    with server.state.sessions() as session:
        set_setting(session, "oplog_retention_days", 90, "admin")
        session.commit()
    status, out, err = run_xunjian("server", "oplog", "purge", "--data", str(server.data))
    assert status == 0, err
    assert "(90 days)" in out and "purged 0 " not in out
    status, out, err = run_xunjian("server", "oplog", "verify", "--data", str(server.data))
    assert status == 0, out + err


def test_config_json_itself_still_refuses_a_short_retention(server: Server) -> None:
    path = server.data / "config.json"
    values = json.loads(path.read_text())
    values["oplog_retention_days"] = 30
    path.write_text(json.dumps(values))
    with pytest.raises(Exception, match="at least 60 days"):
        load_config(server.data)


# -- accounts ---------------------------------------------------------------------------------


def test_an_added_account_gets_a_one_time_password_it_must_change(server: Server) -> None:
    with server.state.sessions() as session:
        password = add_account(session, "lin", "operator")
        session.commit()
        user = user_by_name(session, "lin")
        assert user is not None and user.role == "operator" and user.must_change_password
        assert verify_password(user.password_hash, password)
        rows = {row.name: row for row in list_accounts(session)}
    assert set(rows) == {"admin", "lin"}
    assert rows["lin"].last_login_at is None and not rows["lin"].disabled


def test_an_admin_cannot_demote_or_disable_themself_or_leave_no_admin(server: Server) -> None:
    with server.state.sessions() as session:
        admin = session.scalars(select(User).where(User.name == "admin")).one()
        with pytest.raises(AccountRefused, match="your own account"):
            change_role(session, admin, admin.id, "operator")
        session.rollback()
        with pytest.raises(AccountRefused, match="your own account"):
            set_disabled(session, admin, admin.id, True)
        session.rollback()
        add_account(session, "second", "admin")
        session.commit()
        second = session.scalars(select(User).where(User.name == "second")).one()
        # Another admin may demote this one: one active admin is left.
        change_role(session, admin, second.id, "auditor")
        session.commit()
        change_role(session, admin, second.id, "admin")
        session.commit()
        # Disabled admins do not count: with "second" disabled, "admin" is the last one.
        set_disabled(session, admin, second.id, True)
        session.commit()
        with pytest.raises(AccountRefused, match="last active admin"):
            change_role(session, second, admin.id, "operator")
        session.rollback()
        assert session.get(User, admin.id).role == "admin"  # type: ignore[union-attr]


def test_two_admins_demoting_each_other_at_once_leave_one_admin(server: Server) -> None:
    """The last-admin guard holds under a race: the second demotion waits for the first (row
    locks on PostgreSQL, the write lock on SQLite), then sees it and is refused."""
    with server.state.sessions() as setup:
        add_account(setup, "second", "admin")
        setup.commit()
    first_id, second_id = user_id(server, "admin"), user_id(server, "second")
    outcome: list[BaseException | None] = []

    def demote_first() -> None:
        with server.state.sessions() as session:
            actor = session.get(User, second_id)
            assert actor is not None
            try:
                change_role(session, actor, first_id, "operator")
                session.commit()
                outcome.append(None)
            except AccountRefused as exc:
                session.rollback()
                outcome.append(exc)

    with server.state.sessions() as session:
        actor = session.get(User, first_id)
        assert actor is not None
        change_role(session, actor, second_id, "operator")  # flushed and locked, not committed
        racer = threading.Thread(target=demote_first)
        racer.start()
        racer.join(0.5)  # give it the chance to reach the lock; either order must end the same
        session.commit()
    racer.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], AccountRefused), outcome
    with server.state.sessions() as session:
        admins = session.scalars(select(User.name).where(User.role == "admin")).all()
    assert admins == ["admin"]


def test_a_disabled_account_cannot_log_in_and_its_sessions_and_tokens_end(server: Server) -> None:
    with server.state.sessions() as session:
        admin = session.scalars(select(User).where(User.name == "admin")).one()
        add_account(session, "leaver", "operator")
        session.commit()
        leaver = session.scalars(select(User).where(User.name == "leaver")).one()
        secret = start_session(session, leaver)
        _, token = new_api_token(session, leaver.id, "script")
        session.commit()
        assert leaver.last_login_at is not None
        assert authenticate_api_token(session, token) is not None
        set_disabled(session, admin, leaver.id, True)
        session.commit()
        assert user_by_name(session, "leaver") is None  # the login finds no such person
        assert resume_session(session, secret, HOUR) is None
        assert authenticate_api_token(session, token) is None
        assert (
            session.scalar(select(ConsoleSession).where(ConsoleSession.user_id == leaver.id))
            is None
        )
        with pytest.raises(TokenError, match="active user"):
            new_api_token(session, leaver.id, "another")
        set_disabled(session, admin, leaver.id, False)
        session.commit()
        assert user_by_name(session, "leaver") is not None
        assert authenticate_api_token(session, token) is not None


def test_a_password_reset_is_one_time_ends_sessions_and_lifts_the_lockout(server: Server) -> None:
    with server.state.sessions() as session:
        add_account(session, "a|b", "auditor")
        add_account(session, "b", "auditor")
        session.commit()
        user = session.scalars(select(User).where(User.name == "b")).one()
        secret = start_session(session, user)
        for name in ("b", "a|b"):
            record_failure(session, "127.0.0.1", name, 1, HOUR)
        session.commit()
        assert {row.name for row in list_accounts(session) if row.locked} == {"b", "a|b"}
        _, password = reset_password(session, user.id)
        session.commit()
        assert verify_password(user.password_hash, password) and user.must_change_password
        assert resume_session(session, secret, HOUR) is None
        # Only the lockout of "b" is lifted, not that of "a|b" (whose key also ends in "|b").
        assert {row.name for row in list_accounts(session) if row.locked} == {"a|b"}
        assert session.scalar(select(LoginFailure.key)) == "127.0.0.1|a|b"


# -- tokens -----------------------------------------------------------------------------------


def test_enrollment_tokens_list_without_secrets_and_revoke(server: Server) -> None:
    with server.state.sessions() as session:
        with pytest.raises(TokenError, match="no group"):
            new_enrollment_token(session, "nosuch", 1, HOUR)
        with pytest.raises(TokenError, match="uses"):
            new_enrollment_token(session, "default", 0, HOUR)
        token = new_enrollment_token(session, "default", 3, HOUR)
        session.commit()
        (row,) = list_enrollment_tokens(session)
        assert row.prefix == token[:12] and row.uses_left == 3 and row.state == "active"
        assert row.group == "default"
    agent = SignedAgent(server, Ed25519PrivateKey.generate(), "")
    assert agent.enroll(token).status_code == 201
    with server.state.sessions() as session:
        assert revoke_enrollment_token(session, row.id) == row.prefix
        session.commit()
        (row,) = list_enrollment_tokens(session)
        assert row.state == "revoked" and row.uses_left == 0
    assert agent.enroll(token).status_code == 401


def test_api_tokens_are_made_for_a_user_listed_and_revoked_by_id(server: Server) -> None:
    with server.state.sessions() as session:
        admin = session.scalars(select(User).where(User.name == "admin")).one()
        with pytest.raises(TokenError, match="printable"):
            new_api_token(session, admin.id, "x" * 101)
        _, token = new_api_token(session, admin.id, "nightly export")
        session.commit()
        (row,) = list_api_tokens(session)
        assert (row.prefix, row.name, row.user, row.role) == (
            token[:12],
            "nightly export",
            "admin",
            "admin",
        )
        assert authenticate_api_token(session, token) is not None
        assert revoke_api_token_by_id(session, row.id) == row.prefix
        session.commit()
        assert authenticate_api_token(session, token) is None
        with pytest.raises(TokenError):
            revoke_api_token_by_id(session, 999)


# -- the pages --------------------------------------------------------------------------------

ADMIN_PASSWORD = "Better-pass-2026"
PAGES = (
    "/settings",
    "/settings/accounts",
    "/settings/enrollment-tokens",
    "/settings/api-tokens",
    "/settings/retention",
)


def csrf_from(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def log_in(client: FlaskClient, name: str, password: str) -> int:
    token = csrf_from(client, "/login")
    answer = client.post("/login", data={"name": name, "password": password, "csrf_token": token})
    return answer.status_code


def first_login(server: Server, name: str, password: str, new: str) -> FlaskClient:
    client = server.client()
    assert log_in(client, name, password) == 302
    token = csrf_from(client, "/password")
    answer = client.post(
        "/password",
        data={
            "current_password": password,
            "new_password": new,
            "confirm_password": new,
            "csrf_token": token,
        },
    )
    assert answer.status_code == 302
    return client


@pytest.fixture
def admin(server: Server) -> FlaskClient:
    return first_login(server, "admin", server.admin_password, ADMIN_PASSWORD)


def post(client: FlaskClient, path: str, form_page: str, **fields: Any) -> TestResponse:
    fields["csrf_token"] = csrf_from(client, form_page)
    return client.post(path, data=fields)


def one_time_secret(page: str) -> str:
    match = re.search(r'class="settings-secret-value"[^>]*>([^<]+)<', page)
    assert match, page
    return html.unescape(match.group(1))


def settings_entries(server: Server) -> list[OplogEntry]:
    with server.state.sessions() as session:
        return list(
            session.scalars(
                select(OplogEntry)
                .where(OplogEntry.action.like("settings.%"))
                .order_by(OplogEntry.seq)
            )
        )


def user_id(server: Server, name: str) -> int:
    with server.state.sessions() as session:
        return session.scalars(select(User.id).where(User.name == name)).one()


def test_settings_pages_are_for_admins_only(server: Server, admin: FlaskClient) -> None:
    for path in PAGES:
        assert admin.get(path).status_code == 200, path
        answer = server.client().get(path)
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/login")
    page = post(admin, "/settings/accounts", "/settings/accounts", name="aud", role="auditor")
    audit_password = one_time_secret(page.get_data(as_text=True))
    auditor = first_login(server, "aud", audit_password, "Auditor-pass-2026")
    for path in PAGES:
        assert auditor.get(path).status_code == 403, path
    # An auditor's forged POST (with a valid CSRF token of its own session) changes nothing.
    token = csrf_from(auditor, "/password")
    answer = auditor.post(
        "/settings/accounts", data={"name": "x", "role": "admin", "csrf_token": token}
    )
    assert answer.status_code == 403
    with server.state.sessions() as session:
        assert user_by_name(session, "x") is None
    # The Settings entry is in the admin's navigation, not the auditor's.
    assert 'href="/settings"' in admin.get("/hosts").get_data(as_text=True)
    assert 'href="/settings"' not in auditor.get("/hosts").get_data(as_text=True)


def test_the_landing_page_links_the_sections_that_exist(server: Server, admin: FlaskClient) -> None:
    page = admin.get("/settings").get_data(as_text=True)
    for path in PAGES[1:]:
        assert f'href="{path}"' in page
    # A section whose endpoint is not in this app is not linked.
    add_settings_section("no_such.endpoint", "Nowhere", "", 99)
    assert "Nowhere" not in admin.get("/settings").get_data(as_text=True)


def test_an_admin_adds_an_account_that_must_change_its_password(
    server: Server, admin: FlaskClient
) -> None:
    answer = post(admin, "/settings/accounts", "/settings/accounts", name="lin", role="operator")
    assert answer.status_code == 201
    password = one_time_secret(answer.get_data(as_text=True))
    assert password not in admin.get("/settings/accounts").get_data(as_text=True)
    lin = server.client()
    assert log_in(lin, "lin", password) == 302
    assert lin.get("/hosts").headers["Location"].endswith("/password")
    # A second account of that name, and a bad name, are refused with a reason.
    again = post(admin, "/settings/accounts", "/settings/accounts", name="lin", role="auditor")
    assert again.status_code == 400
    assert text("A user named %(name)s already exists.") % {"name": "lin"} in again.get_data(
        as_text=True
    )
    assert (
        post(
            admin, "/settings/accounts", "/settings/accounts", name=" x", role="auditor"
        ).status_code
        == 400
    )
    (created, refused, bad) = settings_entries(server)
    assert (created.action, created.target, created.outcome) == (
        "settings.account_create",
        "user:lin",
        "ok",
    )
    assert json.loads(created.details) == {"role": "operator"}
    assert (refused.outcome, bad.outcome) == ("refused", "refused")
    assert password not in "".join(e.details + e.reason for e in settings_entries(server))


def test_role_disable_enable_and_reset_through_the_pages(
    server: Server, admin: FlaskClient
) -> None:
    page = post(admin, "/settings/accounts", "/settings/accounts", name="wang", role="operator")
    wang = first_login(
        server, "wang", one_time_secret(page.get_data(as_text=True)), "Wang-pass-2026"
    )
    uid = user_id(server, "wang")
    assert wang.get("/hosts").status_code == 200
    answer = post(admin, f"/settings/accounts/{uid}/role", "/settings/accounts", role="auditor")
    assert answer.status_code == 200
    with server.state.sessions() as session:
        assert session.get(User, uid).role == "auditor"  # type: ignore[union-attr]
    assert post(admin, f"/settings/accounts/{uid}/disable", "/settings/accounts").status_code == 200
    # The disabled person's open session ends at its next request; their login fails.
    assert wang.get("/hosts").headers["Location"].endswith("/login")
    assert log_in(server.client(), "wang", "Wang-pass-2026") == 401
    assert post(admin, f"/settings/accounts/{uid}/enable", "/settings/accounts").status_code == 200
    assert log_in(server.client(), "wang", "Wang-pass-2026") == 302
    answer = post(admin, f"/settings/accounts/{uid}/reset-password", "/settings/accounts")
    new_password = one_time_secret(answer.get_data(as_text=True))
    assert log_in(server.client(), "wang", "Wang-pass-2026") == 401
    fresh = server.client()
    assert log_in(fresh, "wang", new_password) == 302
    assert fresh.get("/hosts").headers["Location"].endswith("/password")
    # The admin cannot demote or disable themself (the last admin, too).
    me = user_id(server, "admin")
    for path, fields in (
        (f"/settings/accounts/{me}/role", {"role": "operator"}),
        (f"/settings/accounts/{me}/disable", {}),
    ):
        answer = post(admin, path, "/settings/accounts", **fields)
        assert answer.status_code == 400
        assert text("You cannot change or disable your own account; another admin can.") in (
            answer.get_data(as_text=True)
        )
    with server.state.sessions() as session:
        me_now = session.get(User, me)
        assert me_now is not None and me_now.role == "admin" and me_now.disabled_at is None
    assert post(admin, "/settings/accounts/9999/disable", "/settings/accounts").status_code == 404
    actions = [(e.action, e.target, e.outcome) for e in settings_entries(server)]
    assert actions[1:6] == [
        ("settings.account_role", "user:wang", "ok"),
        ("settings.account_disable", "user:wang", "ok"),
        ("settings.account_enable", "user:wang", "ok"),
        ("settings.account_reset_password", "user:wang", "ok"),
        ("settings.account_role", f"user_id:{me}", "refused"),
    ]
    everything = "".join(e.details + e.reason for e in settings_entries(server))
    assert new_password not in everything and "Wang-pass-2026" not in everything


def test_enrollment_tokens_through_the_pages(server: Server, admin: FlaskClient) -> None:
    page = "/settings/enrollment-tokens"
    answer = post(admin, page, page, group="default", uses="2", expires="2h")
    assert answer.status_code == 201
    line = one_time_secret(answer.get_data(as_text=True))
    words = line.split()
    assert words[:3] == ["xunjian", "agent", "enroll"]
    token = words[words.index("--token") + 1]
    assert words[words.index("--server") + 1] == server.state.config.server_url
    ca = certificate_sha256((server.data / "ca" / "ca.pem").read_bytes())
    assert words[words.index("--ca-sha256") + 1] == ca
    listing = admin.get(page).get_data(as_text=True)
    assert token[:12] in listing and token not in listing
    agent = SignedAgent(server, Ed25519PrivateKey.generate(), "")
    assert agent.enroll(token).status_code == 201
    for bad in ({"uses": "0"}, {"uses": "x"}, {"expires": "5y"}, {"group": "nosuch"}):
        fields = {"group": "default", "uses": "1", "expires": "1h", **bad}
        assert post(admin, page, page, **fields).status_code == 400, bad
    (row, *_) = list_tokens(server)
    assert post(admin, f"{page}/{row.id}/revoke", page).status_code == 302
    assert agent.enroll(token).status_code == 401
    entries = settings_entries(server)
    assert (entries[0].action, entries[0].target) == (
        "settings.enrollment_token_create",
        f"token:{token[:12]}",
    )
    assert json.loads(entries[0].details) == {
        "group": "default",
        "uses": 2,
        "expires_seconds": 7200,
    }
    assert (entries[-1].action, entries[-1].target) == (
        "settings.enrollment_token_revoke",
        f"token:{token[:12]}",
    )
    assert token not in "".join(e.details + e.reason + e.target[:12] for e in entries[1:-1])


def list_tokens(server: Server) -> list[Any]:
    with server.state.sessions() as session:
        return list_enrollment_tokens(session)


def test_api_tokens_through_the_pages(server: Server, admin: FlaskClient) -> None:
    page = "/settings/api-tokens"
    me = user_id(server, "admin")
    answer = post(admin, page, page, user_id=str(me), name="nightly")
    assert answer.status_code == 201
    token = one_time_secret(answer.get_data(as_text=True))
    bearer = {"Authorization": f"Bearer {token}"}
    assert server.client().get("/api/v1/hosts", headers=bearer).status_code == 200
    assert token not in admin.get(page).get_data(as_text=True)
    assert post(admin, page, page, user_id="9999", name="x").status_code == 400
    with server.state.sessions() as session:
        (row,) = list_api_tokens(session)
    assert post(admin, f"{page}/{row.id}/revoke", page).status_code == 302
    assert server.client().get("/api/v1/hosts", headers=bearer).status_code == 401
    entries = settings_entries(server)
    assert [(e.action, e.target, e.outcome) for e in entries] == [
        ("settings.api_token_create", f"token:{token[:12]}", "ok"),
        ("settings.api_token_create", "user_id:9999", "refused"),
        ("settings.api_token_revoke", f"token:{token[:12]}", "ok"),
    ]
    assert json.loads(entries[0].details) == {"user": "admin", "role": "admin", "name": "nightly"}


def test_retention_is_saved_and_a_value_below_60_is_refused(
    server: Server, admin: FlaskClient
) -> None:
    page = "/settings/retention"
    answer = post(
        admin,
        page,
        page,
        oplog_retention_days="90",
        evidence_retention_days="180",
        results_retention_days="180",
        session_idle_minutes="30",
    )
    assert answer.status_code == 200
    with server.state.sessions() as session:
        effective = effective_settings(session, server.state.config)
    assert effective.oplog_retention_days == 90
    assert effective.overrides.keys() == {"oplog_retention_days"}  # idle unchanged: not stored
    assert 'value="90"' in admin.get(page).get_data(as_text=True)
    answer = post(
        admin,
        page,
        page,
        oplog_retention_days="59",
        evidence_retention_days="180",
        results_retention_days="180",
        session_idle_minutes="30",
    )
    assert answer.status_code == 400
    message = text(
        "The operation log must be kept at least %(days)d days (POLICY.md E12). "
        "Nothing was changed."
    ) % {"days": 60}
    assert message in answer.get_data(as_text=True)
    for bad in (
        {"oplog_retention_days": "abc"},
        {"session_idle_minutes": "0"},
        {"session_idle_minutes": "1441"},
        {"oplog_retention_days": "99999999999"},
        {"evidence_retention_days": "29"},
        {"evidence_retention_days": ""},
    ):
        fields = {
            "oplog_retention_days": "90",
            "evidence_retention_days": "180",
            "results_retention_days": "180",
            "session_idle_minutes": "30",
            **bad,
        }
        assert post(admin, page, page, **fields).status_code == 400, bad
    with server.state.sessions() as session:
        assert effective_settings(session, server.state.config).oplog_retention_days == 90
    entries = settings_entries(server)
    assert (entries[0].action, entries[0].target, entries[0].outcome) == (
        "settings.retention_save",
        "settings:oplog_retention_days",
        "ok",
    )
    assert json.loads(entries[0].details) == {"oplog_retention_days": {"from": 180, "to": 90}}
    # The page was in Chinese; the log says it in English, with what was sent.
    assert entries[1].outcome == "refused"
    assert entries[1].reason.startswith(
        "oplog_retention_days='59': The operation log must be kept at least 60 days"
    )
    answer = post(admin, f"{page}/oplog_retention_days/reset", page)
    assert answer.status_code == 200
    with server.state.sessions() as session:
        assert effective_settings(session, server.state.config).oplog_retention_days == 180


def test_evidence_retention_is_saved_logged_and_reset(server: Server, admin: FlaskClient) -> None:
    page = "/settings/retention"
    fields = {
        "oplog_retention_days": "180",
        "results_retention_days": "180",
        "session_idle_minutes": "30",
    }
    answer = post(admin, page, page, evidence_retention_days="365", **fields)
    assert answer.status_code == 200
    with server.state.sessions() as session:
        effective = effective_settings(session, server.state.config)
    assert effective.evidence_retention_days == 365
    assert effective.overrides.keys() == {"evidence_retention_days"}
    assert 'name="evidence_retention_days" type="number" min="30"' in admin.get(page).get_data(
        as_text=True
    )
    answer = post(admin, page, page, evidence_retention_days="10", **fields)
    assert answer.status_code == 400
    message = text(
        "Evidence retention is a whole number of days from %(low)d to %(high)d. "
        "Nothing was changed."
    ) % {"low": 30, "high": 36500}
    assert message in answer.get_data(as_text=True)
    entries = settings_entries(server)
    assert json.loads(entries[0].details) == {"evidence_retention_days": {"from": 180, "to": 365}}
    assert entries[1].outcome == "refused"
    assert post(admin, f"{page}/evidence_retention_days/reset", page).status_code == 200
    with server.state.sessions() as session:
        assert effective_settings(session, server.state.config).evidence_retention_days == 180


def test_results_retention_is_saved_logged_refused_below_six_months_and_reset(
    server: Server, admin: FlaskClient
) -> None:
    page = "/settings/retention"
    fields = {
        "oplog_retention_days": "180",
        "evidence_retention_days": "180",
        "session_idle_minutes": "30",
    }
    answer = post(admin, page, page, results_retention_days="400", **fields)
    assert answer.status_code == 200
    with server.state.sessions() as session:
        effective = effective_settings(session, server.state.config)
    assert effective.results_retention_days == 400
    assert effective.oplog_retention_days == 180  # a setting of its own
    assert effective.overrides.keys() == {"results_retention_days"}
    shown = admin.get(page).get_data(as_text=True)
    assert 'name="results_retention_days" type="number" min="180" max="36500" value="400"' in shown
    for bad in ("179", "60", "36501", "", "x"):
        answer = post(admin, page, page, results_retention_days=bad, **fields)
        assert answer.status_code == 400, bad
    below = post(admin, page, page, results_retention_days="90", **fields)
    message = text(
        "Results and their history must be kept at least %(days)d days: the weekly reports "
        "are made from them, and national law asks that logs be kept six months "
        "(POLICY.md E12, A4). Nothing was changed."
    ) % {"days": 180}
    assert message in below.get_data(as_text=True)
    with server.state.sessions() as session:
        assert effective_settings(session, server.state.config).results_retention_days == 400
    entries = settings_entries(server)
    assert entries[0].outcome == "ok"
    assert json.loads(entries[0].details) == {"results_retention_days": {"from": 180, "to": 400}}
    assert [entry.outcome for entry in entries[1:]] == ["refused"] * 6
    assert entries[-1].reason.startswith(
        "results_retention_days='90': Results and their history must be kept at least 180 days"
    )
    assert post(admin, f"{page}/results_retention_days/reset", page).status_code == 200
    with server.state.sessions() as session:
        assert effective_settings(session, server.state.config).results_retention_days == 180


def test_the_session_idle_limit_applies_at_run_time(server: Server, admin: FlaskClient) -> None:
    page = "/settings/retention"
    answer = post(
        admin,
        page,
        page,
        oplog_retention_days="180",
        evidence_retention_days="180",
        results_retention_days="180",
        session_idle_minutes="2",
    )
    assert answer.status_code == 200
    # Three minutes idle: longer than the new limit, shorter than config.json's 30 minutes.
    with server.state.sessions() as session:
        session.execute(
            update(ConsoleSession).values(last_seen_at=utcnow() - datetime.timedelta(minutes=3))
        )
        session.commit()
    assert admin.get("/settings").headers["Location"].endswith("/login")


def test_a_settings_form_without_its_csrf_token_changes_nothing(
    server: Server, admin: FlaskClient
) -> None:
    answer = admin.post(
        "/settings/retention", data={"oplog_retention_days": "90", "session_idle_minutes": "30"}
    )
    assert answer.status_code == 400
    with server.state.sessions() as session:
        assert effective_settings(session, server.state.config).overrides == {}
