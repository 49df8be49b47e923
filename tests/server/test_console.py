"""The console: login, forced password change (E4), CSRF, lockout, headers, hosts pages."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from server.store.accounts import create_user
from server.store.models import ConsoleSession, User
from tests.server.conftest import Server, SignedAgent

NEW_PASSWORD = "Better-pass-2026"


def csrf_from(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def log_in(client: FlaskClient, name: str, password: str) -> int:
    token = csrf_from(client, "/login")
    answer = client.post("/login", data={"name": name, "password": password, "csrf_token": token})
    return answer.status_code


def change_password(client: FlaskClient, current: str, new: str, confirm: str | None = None) -> int:
    token = csrf_from(client, "/password")
    answer = client.post(
        "/password",
        data={
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
            "csrf_token": token,
        },
    )
    return answer.status_code


@pytest.fixture
def admin(server: Server) -> FlaskClient:
    """A client logged in as the first admin, its password already changed."""
    client = server.client()
    assert log_in(client, "admin", server.admin_password) == 302
    assert change_password(client, server.admin_password, NEW_PASSWORD) == 302
    return client


def test_pages_need_login(server: Server) -> None:
    for path in ("/", "/hosts", "/password"):
        answer = server.client().get(path)
        assert answer.status_code == 302
        assert answer.headers["Location"].endswith("/login")


def test_first_login_forces_a_password_change(server: Server) -> None:
    client = server.client()
    assert log_in(client, "admin", server.admin_password) == 302
    answer = client.get("/hosts")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/password")
    assert change_password(client, server.admin_password, NEW_PASSWORD) == 302
    assert client.get("/hosts").status_code == 200
    with server.state.sessions() as session:
        admin = session.scalars(select(User).where(User.name == "admin")).one()
        assert admin.must_change_password is False
    # The old password is gone; the new one works.
    assert log_in(server.client(), "admin", server.admin_password) == 401
    assert log_in(server.client(), "admin", NEW_PASSWORD) == 302


def test_the_initial_password_file_goes_once_it_was_changed(server: Server) -> None:
    initial = server.state.paths.initial_password
    assert initial.read_text().strip() == server.admin_password
    client = server.client()
    assert log_in(client, "admin", server.admin_password) == 302
    page = client.get("/password").get_data(as_text=True)
    # The forced change shows no navigation: every link would lead back here.
    assert "<nav>" not in page and 'href="/hosts"' not in page
    assert change_password(client, server.admin_password, "Wrong-confirm-1", "x") == 400
    assert initial.exists()  # a refused change keeps it
    assert change_password(client, server.admin_password, NEW_PASSWORD) == 302
    assert not initial.exists()
    assert "<nav>" in client.get("/hosts").get_data(as_text=True)


@pytest.mark.parametrize(
    ("new", "confirm"),
    [
        ("Sh0rt!", None),  # under 8 characters
        ("alllowercase", None),  # one class
        ("lowerUPPER", None),  # two classes
        ("Better-pass-2026", "Better-pass-2027"),  # confirmation differs
    ],
)
def test_password_change_enforces_e4(server: Server, new: str, confirm: str | None) -> None:
    client = server.client()
    log_in(client, "admin", server.admin_password)
    assert change_password(client, server.admin_password, new, confirm) == 400
    with server.state.sessions() as session:
        admin = session.scalars(select(User).where(User.name == "admin")).one()
        assert admin.must_change_password is True


def test_password_change_needs_the_current_password(server: Server) -> None:
    client = server.client()
    log_in(client, "admin", server.admin_password)
    assert change_password(client, "wrong-Current-1", NEW_PASSWORD) == 400


def test_wrong_password_and_unknown_user_get_the_same_answer(server: Server) -> None:
    answers = []
    for name in ("admin", "nobody"):
        client = server.client()
        token = csrf_from(client, "/login")
        answer = client.post(
            "/login", data={"name": name, "password": "Wrong-pass-1", "csrf_token": token}
        )
        page = answer.get_data(as_text=True).replace(name, "NAME")
        # Each client has its own CSRF token; everything else must be identical.
        answers.append((answer.status_code, re.sub(r'value="[^"]{20,}"', "", page)))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401


def test_lockout_after_repeated_failures(server: Server) -> None:
    for _ in range(5):
        assert log_in(server.client(), "admin", "Wrong-pass-1") == 401
    # Locked: even the right password is refused, with the same generic page.
    assert log_in(server.client(), "admin", server.admin_password) == 401
    # Another user name from the same address is not locked.
    with server.state.sessions() as session:
        create_user(session, "olga", "operator", "Olga-pass-2026")
        session.commit()
    assert log_in(server.client(), "olga", "Olga-pass-2026") == 302


def test_post_without_csrf_token_is_refused(server: Server) -> None:
    client = server.client()
    client.get("/login")
    answer = client.post("/login", data={"name": "admin", "password": server.admin_password})
    assert answer.status_code == 400
    answer = client.post(
        "/login", data={"name": "admin", "password": server.admin_password, "csrf_token": "x"}
    )
    assert answer.status_code == 400
    assert client.get("/hosts").status_code == 302  # still not logged in


def test_scan_now_form_needs_csrf(server: Server, admin: FlaskClient, agent: SignedAgent) -> None:
    assert admin.post(f"/hosts/{agent.agent_id}/scan-now").status_code == 400
    assert agent.heartbeat().get_json()["commands"] == []
    token = csrf_from(admin, f"/hosts/{agent.agent_id}")
    answer = admin.post(f"/hosts/{agent.agent_id}/scan-now", data={"csrf_token": token})
    assert answer.status_code == 302
    assert [c["type"] for c in agent.heartbeat().get_json()["commands"]] == ["scan_now"]


def test_logout_ends_the_session_server_side(server: Server, admin: FlaskClient) -> None:
    cookie = admin.get_cookie("xunjian_session")
    assert cookie is not None
    token = csrf_from(admin, "/hosts")
    assert admin.post("/logout", data={"csrf_token": token}).status_code == 302
    with server.state.sessions() as session:
        assert session.scalars(select(ConsoleSession)).all() == []
    # Replaying the old cookie does not bring the session back.
    replay = server.client()
    replay.set_cookie("xunjian_session", cookie.value)
    assert replay.get("/hosts").status_code == 302


def test_idle_session_expires(server: Server, admin: FlaskClient) -> None:
    import datetime

    with server.state.sessions() as session:
        session.execute(update(ConsoleSession).values(last_seen_at=datetime.datetime(2020, 1, 1)))
        session.commit()
    assert admin.get("/hosts").status_code == 302


def test_page_views_refresh_the_session_at_most_every_resolution_step(
    server: Server, admin: FlaskClient
) -> None:
    import datetime

    from server.store.accounts import LAST_SEEN_RESOLUTION

    def seen() -> datetime.datetime:
        with server.state.sessions() as session:
            return session.scalars(select(ConsoleSession.last_seen_at)).one()

    earlier = seen() - LAST_SEEN_RESOLUTION / 2
    with server.state.sessions() as session:
        session.execute(update(ConsoleSession).values(last_seen_at=earlier))
        session.commit()
    assert admin.get("/hosts").status_code == 200
    assert seen() == earlier  # a recent view: no write
    earlier = seen() - LAST_SEEN_RESOLUTION
    with server.state.sessions() as session:
        session.execute(update(ConsoleSession).values(last_seen_at=earlier))
        session.commit()
    assert admin.get("/hosts").status_code == 200
    assert seen() > earlier  # a step ago: the idle clock starts again


def test_cookie_and_security_headers(server: Server) -> None:
    client = server.client()
    token = csrf_from(client, "/login")
    answer = client.post(
        "/login", data={"name": "admin", "password": server.admin_password, "csrf_token": token}
    )
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    page = client.get("/password")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"]


def test_pages_load_nothing_from_other_origins(server: Server, admin: FlaskClient) -> None:
    page = admin.get("/hosts").get_data(as_text=True)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    css = admin.get("/static/console/style.css")
    assert css.status_code == 200 and b"body" in css.data


def test_hosts_and_host_pages(server: Server, admin: FlaskClient, agent: SignedAgent) -> None:
    agent.send_report(agent.report())
    hosts = admin.get("/hosts").get_data(as_text=True)
    assert "pc-101" in hosts and agent.agent_id in hosts
    host = admin.get(f"/hosts/{agent.agent_id}").get_data(as_text=True)
    assert "test.check_0" in host and "user:toor" in host
    assert "&#34;index&#34;: 0" in host or '"index": 0' in host  # evidence is shown
    assert "Debian GNU/Linux 12" in host  # inventory
    assert admin.get("/hosts/no-such-host").status_code == 404


def test_auditor_sees_no_command_button_and_cannot_post(server: Server, agent: SignedAgent) -> None:
    with server.state.sessions() as session:
        create_user(session, "audrey", "auditor", "Audit-pass-2026")
        session.commit()
    client = server.client()
    assert log_in(client, "audrey", "Audit-pass-2026") == 302
    assert change_password(client, "Audit-pass-2026", NEW_PASSWORD) == 302
    page = client.get(f"/hosts/{agent.agent_id}").get_data(as_text=True)
    assert "scan-now" not in page
    token = csrf_from(client, "/hosts")
    assert (
        client.post(f"/hosts/{agent.agent_id}/scan-now", data={"csrf_token": token}).status_code
        == 403
    )


def test_assets_leave_the_session_cookie_alone(admin: FlaskClient) -> None:
    """A page's assets are fetched beside it with the cookie of their moment; were their answers
    to send the (permanent, refreshed) session cookie again, one that left before a language
    switch would put the older session back. A page's answer still refreshes it."""
    page = admin.get("/hosts")
    assert page.status_code == 200
    assert "xunjian_session=" in page.headers.get("Set-Cookie", "")
    for path in ("/static/console/style.css", "/favicon.ico"):
        asset = admin.get(path)
        assert asset.status_code == 200, path
        assert "Set-Cookie" not in asset.headers, path
    switched = admin.get("/language/en?next=/hosts")
    assert "xunjian_session=" in switched.headers.get("Set-Cookie", "")
