"""Policy settings (issue 3): groups and their check parameters, approved lists, channels and
the on-call roster held in the database. Real databases (both), real webhook deliveries to an
HTTP receiver on 127.0.0.1, and the console pages through Flask's test client."""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from server.alerts.delivery import ChannelDelivery
from server.alerts.models import Alert, AlertNotification
from server.app import create_app
from server.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, webhook_signature
from server.oplog.models import OplogEntry
from server.policy import check_catalog, param_problem
from server.policy_settings import alerting, groups
from server.policy_settings.alerting import Person, SettingsError, Tier
from server.policy_settings.forms import settings_from_form
from server.policy_settings.models import NotifyChannelRow, NotifySettingsState
from server.store.accounts import create_user
from server.store.engine import make_engine
from server.store.models import Group, utcnow
from tests.server.conftest import Server, SignedAgent, init_data_folder
from tests.server.test_alerts import result, send
from tests.server.test_console import NEW_PASSWORD, admin, change_password, csrf_from, log_in

__all__ = ["admin"]  # a fixture, used by name

SECRET = "s3cret-webhook-signing-key-0123"


class Receiver:
    """A webhook receiver on 127.0.0.1 that keeps every request's body and headers."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.paths: list[str] = []  # each request's path and query, in order
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests.append((dict(self.headers.items()), body))
                    receiver.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def alert_ids(self) -> list[str]:
        with self.lock:
            return [json.loads(body)["alert"]["id"] for _, body in self.requests]

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {"url": self.url, "allow_http": True, **extra}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.http.shutdown()
    receiver.http.server_close()


def group_named(server: Server, name: str = "default") -> Group:
    with server.state.sessions() as session:
        return session.scalars(select(Group).where(Group.name == name)).one()


def catalog_entry(check_id: str) -> dict[str, Any]:
    [entry] = [entry for entry in check_catalog() if entry["id"] == check_id]
    return entry


def full_form(group: Group) -> dict[str, str]:
    """What the policy page's form posts when nobody changes anything."""
    form: dict[str, str] = {}
    for check in groups.check_forms(group):
        form[f"c.{check.id}"] = "1"
        if check.enabled:
            form[f"e.{check.id}"] = "1"
        for param in check.params:
            key = f"p.{check.id}.{param.name}"
            if param.widget == "bool":
                if param.value:
                    form[key] = "1"
            elif not param.per_host:
                form[key] = param.value
    return form


# --- parameters and groups -------------------------------------------------------------------


def test_param_problem_follows_the_spec() -> None:
    spec = {"type": "int", "default": 90, "minimum": 1}
    assert param_problem(spec, 30) is None
    assert "between 1 and" in (param_problem(spec, 0) or "")
    assert "whole number" in (param_problem(spec, True) or "")
    assert "between" in (param_problem({**spec, "maximum": 365}, 366) or "")
    assert "one of" in (param_problem({"type": "str", "choices": ["a", "b"]}, "c") or "")
    assert param_problem({"type": "list[int]", "minimum": 1}, [22, 443]) is None
    assert "between 1" in (param_problem({"type": "list[int]", "minimum": 1}, [22, 0]) or "")
    assert "printable" in (param_problem({"type": "list[str]"}, ["a\x00b"]) or "")
    assert "at most" in (param_problem({"type": "list[str]"}, ["x"] * 2001) or "")


def test_an_unchanged_form_stores_nothing(server: Server) -> None:
    group = group_named(server)
    checks, changed = groups.parse_policy_form(group, full_form(group))
    assert checks == {} and changed == []


def test_saving_a_parameter_stores_only_the_change_and_bumps_the_version(
    server: Server, agent: SignedAgent
) -> None:
    group = group_named(server)
    form = full_form(group)
    form["p.accounts.password_age.max_days"] = "45"
    form.pop("e.ssh.root_login")
    form["p.services.listening.approved_tcp_ports"] = "22\n443"
    checks, changed = groups.parse_policy_form(group, form)
    assert checks == {
        "accounts.password_age": {"params": {"max_days": 45}},
        "ssh.root_login": {"enabled": False},
        "services.listening": {"params": {"approved_tcp_ports": [22, 443]}},
    }
    assert sorted(changed) == [
        "accounts.password_age.max_days",
        "services.listening.approved_tcp_ports",
        "ssh.root_login.enabled",
    ]
    with server.state.sessions() as session:
        stored = session.get(Group, group.id)
        assert stored is not None
        assert groups.save_checks(session, stored, checks) == 2
        session.commit()
    policy = agent.policy().get_json()
    assert policy["version"] == 2
    assert policy["checks"]["accounts.password_age"]["params"]["max_days"] == 45
    assert policy["checks"]["ssh.root_login"]["enabled"] is False
    with server.state.sessions() as session:
        stored = session.get(Group, group.id)
        assert stored is not None
        assert groups.reset_check(session, stored, "accounts.password_age") == 3
        assert groups.reset_check(session, stored, "accounts.password_age") is None
        session.commit()
    assert agent.policy().get_json()["checks"]["accounts.password_age"]["params"] == {
        "max_days": 90
    }


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("p.accounts.password_age.max_days", "0", "between 1"),
        ("p.accounts.password_age.max_days", "ninety", "whole number"),
        ("p.accounts.password_age.max_days", "99999999999", "between"),
        ("p.services.listening.approved_tcp_ports", "22\nssh", "whole numbers"),
        ("p.accounts.password_changed_since_handover.go_live_date", "a\nb", "one line"),
    ],
)
def test_a_bad_parameter_is_refused_by_name(
    server: Server, key: str, value: str, reason: str
) -> None:
    group = group_named(server)
    form = full_form(group)
    form[key] = value
    with pytest.raises(groups.FormErrors) as refused:
        groups.parse_policy_form(group, form)
    field = key.removeprefix("p.")
    assert list(refused.value.errors) == [field]
    assert reason in refused.value.errors[field]


def test_per_host_parameters_are_not_set_per_group(server: Server) -> None:
    group = group_named(server)
    form = full_form(group)
    form["p.software.baseline.baseline"] = "evil"
    checks, _ = groups.parse_policy_form(group, form)
    assert checks == {}
    [check] = [c for c in groups.check_forms(group) if c.id == "software.baseline"]
    assert check.params[0].per_host


def test_groups_create_rename_and_count_hosts(server: Server, agent: SignedAgent) -> None:
    with server.state.sessions() as session:
        lab = groups.create_group(session, "lab-2")
        session.commit()
        for bad, reason in [("lab-2", "exists"), ("机房", "letters"), ("", "letters")]:
            with pytest.raises(groups.FormErrors, match=reason):
                groups.create_group(session, bad)
        assert groups.rename_group(session, lab, "lab-3") == 2
        session.commit()
        summary = {row.name: row for row in groups.list_groups(session)}
    assert summary["default"].hosts == 1 and summary["lab-3"].hosts == 0
    assert summary["lab-3"].policy_version == 2


def test_approved_lists_are_validated_and_feed_the_checks(
    server: Server, agent: SignedAgent
) -> None:
    group = group_named(server)
    lists = groups.parse_approved_form(
        {"users": "alice\n\nbob\nalice\nDOMAIN\\carol", "software": "openssh-server\nlib*"}
    )
    assert lists == {
        "users": ["DOMAIN\\carol", "alice", "bob"],
        "software": ["lib*", "openssh-server"],
    }
    for form, field in [
        ({"users": "alice;rm -rf /", "software": ""}, "users"),
        ({"users": "x" * 65, "software": ""}, "users"),
        ({"users": "", "software": "a<script>"}, "software"),
        ({"users": "\n".join(f"u{n}" for n in range(2001)), "software": ""}, "users"),
    ]:
        with pytest.raises(groups.FormErrors) as refused:
            groups.parse_approved_form(form)
        assert list(refused.value.errors) == [field]
    with server.state.sessions() as session:
        stored = session.get(Group, group.id)
        assert stored is not None
        assert groups.save_approved(session, stored, lists) == 2
        assert groups.save_approved(session, stored, lists) is None  # no change, no bump
        session.commit()
    policy = agent.policy().get_json()
    assert policy["approved"]["users"] == ["DOMAIN\\carol", "alice", "bob"]
    assert policy["checks"]["accounts.unapproved"]["params"]["approved"] == [
        "DOMAIN\\carol",
        "alice",
        "bob",
    ]
    assert policy["checks"]["software.allow_list"]["params"]["allowed"] == [
        "lib*",
        "openssh-server",
    ]


# --- channels and roster in the database -----------------------------------------------------


def webhook_entry(name: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "webhook", "settings": {"url": url, "allow_http": True, **extra}}


@pytest.fixture
def seeded(tmp_path: Path, database_url: str, receiver: Receiver) -> Iterator[Flask]:
    """A server whose config.json names two channels and a roster."""
    data = tmp_path / "seeded"
    init_data_folder(data, database_url)
    app = create_app(
        data,
        {
            "notify_channels": [
                webhook_entry("duty", receiver.url, secret=SECRET),
                webhook_entry("head", receiver.url),
            ],
            "oncall_tiers": [
                {"channels": ["duty"], "escalate_after_seconds": 600},
                {"channels": ["head"]},
            ],
        },
    )
    app.config["TESTING"] = True
    yield app
    app.extensions["xunjian"].engine.dispose()


def state_of(app: Flask) -> Any:
    return app.extensions["xunjian"]


def test_config_json_is_the_fallback_until_the_console_saves(seeded: Flask) -> None:
    state = state_of(seeded)
    with state.sessions() as session:
        found = alerting.load_alerting(session, state.config, data=state.paths.root)
    assert found.source == "config" and found.version is None
    assert [(c.name, c.tier, c.delay_seconds) for c in found.channels] == [
        ("duty", 1, 0),
        ("head", 2, 600),
    ]
    assert found.tiers == (Tier(("duty",), (), 600), Tier(("head",), (), None))
    with state.sessions() as session:
        alerting.update_channel(
            session,
            state.config,
            "admin",
            "head",
            "high",
            {"url": "https://hooks.example/x"},
            data=state.paths.root,
        )
        session.commit()
        found = alerting.load_alerting(session, state.config, data=state.paths.root)
        rows = session.scalars(select(NotifyChannelRow).order_by(NotifyChannelRow.id)).all()
    # The first save copied config.json's channels (secrets too) and roster, then applied.
    assert found.source == "database" and found.version == 1
    assert [(row.name, row.min_severity) for row in rows] == [("duty", "low"), ("head", "high")]
    # The secret is sealed at rest (tests/server/test_channel_sealing.py has the details).
    assert rows[0].settings["secret"].startswith("sealed:v1:")
    assert SECRET not in json.dumps(rows[0].settings)
    assert found.channels[0].settings["secret"] == SECRET
    assert [(c.name, c.tier, c.delay_seconds) for c in found.channels] == [
        ("duty", 1, 0),
        ("head", 2, 600),
    ]
    with state.sessions() as session:
        assert alerting.revert_to_config(session, "admin") == 2
        session.commit()
        found = alerting.load_alerting(session, state.config, data=state.paths.root)
    assert found.source == "config" and found.version == 2


def test_channel_settings_are_validated_by_the_notifier(seeded: Flask) -> None:
    state = state_of(seeded)
    for name, kind, severity, settings, field in [
        ("x", "webhook", "low", {"url": "http://hooks.example/x"}, "url"),
        ("x", "webhook", "low", {"url": "https://h.example/", "secert": "x"}, "secert"),
        ("x", "webhook", "low", {"url": "https://h.example/", "secret": "short"}, "secret"),
        ("x", "pager", "low", {}, "kind"),
        ("x", "webhook", "urgent", {"url": "https://h.example/"}, "min_severity"),
        ("bad name", "webhook", "low", {"url": "https://h.example/"}, "name"),
        ("duty", "webhook", "low", {"url": "https://h.example/"}, "name"),
        (
            "x",
            "email",
            "low",
            {"host": "mail.example", "from_address": "a@b.cn", "to": ["x"]},
            "to",
        ),
    ]:
        with state.sessions() as session, pytest.raises(SettingsError) as refused:
            alerting.create_channel(
                session,
                state.config,
                "admin",
                name,
                kind,
                severity,
                settings,
                data=state.paths.root,
            )
        assert refused.value.field == field, (name, settings)
    with state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(NotifyChannelRow)) == 0
        assert session.get(NotifySettingsState, 1) is None


def test_the_settings_form_keeps_a_blank_secret_and_never_shows_one() -> None:
    stored = {"url": "https://h.example/x", "secret": SECRET}
    form = {"s.url": "https://h.example/y", "s.secret": ""}
    assert settings_from_form("webhook", form, stored) == {
        "url": "https://h.example/y",
        "secret": SECRET,
    }
    assert settings_from_form("webhook", {**form, "clear.secret": "1"}, stored) == {
        "url": "https://h.example/y"
    }
    replaced = settings_from_form("webhook", {**form, "s.secret": "n" * 20}, stored)
    assert replaced["secret"] == "n" * 20
    with pytest.raises(SettingsError, match="timeout_seconds"):
        settings_from_form("webhook", {**form, "s.timeout_seconds": "soon"}, stored)
    view = alerting.public_view("hook", "webhook", "low", stored, None)
    assert SECRET not in repr(view) and view.secrets_set == {"secret": True}
    robot = alerting.public_view(
        "robot", "dingtalk", "low", {"webhook_url": "https://o.example/send?access_token=T0K"}, 1
    )
    assert "T0K" not in repr(robot) and robot.secrets_set["webhook_url"]


def test_roster_people_and_tiers_are_validated(seeded: Flask) -> None:
    state = state_of(seeded)
    good = [
        Tier(("duty",), (Person("王老师", "+86 138-0013-8000"),), 600),
        Tier(("head",), (Person("IT head", "head@school.cn"),)),
    ]
    for tiers, field in [
        ([Tier(("duty",), (Person("王老师", "call me"),), 600), good[1]], "tier1.people"),
        ([Tier(("duty",), (Person("", "13800138000"),), 600), good[1]], "tier1.people"),
        ([Tier(("duty",), (Person("x", "a@b@c"),), 600), good[1]], "tier1.people"),
        ([good[0], Tier(("nobody",))], "tier2.channels"),
        ([good[0], Tier(("duty",))], "tier2.channels"),
        ([Tier(("duty",)), good[1]], "tier1.escalate_after_seconds"),
        ([Tier(("duty",), (), 0), good[1]], "tier1.escalate_after_seconds"),
        ([Tier((), (), 60), good[1]], "tier1.channels"),
    ]:
        with state.sessions() as session, pytest.raises(SettingsError) as refused:
            alerting.save_roster(session, state.config, "admin", tiers, data=state.paths.root)
        assert refused.value.field == field, tiers
    with state.sessions() as session:
        assert session.get(NotifySettingsState, 1) is None  # refused: nothing stored
        alerting.save_roster(session, state.config, "admin", good, data=state.paths.root)
        session.commit()
        found = alerting.load_alerting(session, state.config, data=state.paths.root)
    assert found.tiers[0].people == (Person("王老师", "+86 138-0013-8000"),)
    with state.sessions() as session, pytest.raises(alerting.Conflict, match="tier 1"):
        alerting.delete_channel(session, state.config, "admin", "duty", data=state.paths.root)


def test_a_channel_edited_in_the_database_is_used_by_a_real_delivery(
    server: Server, agent: SignedAgent, receiver: Receiver, database_url: str
) -> None:
    """Two deliveries with engines of their own (two server processes); the channel is created
    after both started, and its secret changed later: each tick uses what is stored now."""
    state = server.state
    engines = [make_engine(database_url), make_engine(database_url)]
    first, second = (
        ChannelDelivery(e, state.config, state.paths.root, name=f"w{n}")
        for n, e in enumerate(engines)
    )
    try:
        send(agent, [result("a.b", "fail")])
        assert first.tick().sent == 0  # no channel anywhere yet
        with state.sessions() as session:
            alerting.create_channel(
                session,
                state.config,
                "admin",
                "hook",
                "webhook",
                "low",
                receiver.settings(secret=SECRET),
                data=state.paths.root,
            )
            session.commit()
        assert second.tick().sent == 1
        assert first.tick().sent == 0  # sent once across the two
        headers, body = receiver.requests[0]
        expected = webhook_signature(SECRET, headers[TIMESTAMP_HEADER], body)
        assert headers[SIGNATURE_HEADER] == expected
        new_secret = "another-signing-key-456789"
        with state.sessions() as session:
            alerting.update_channel(
                session,
                state.config,
                "admin",
                "hook",
                "low",
                receiver.settings(secret=new_secret),
                data=state.paths.root,
            )
            session.commit()
        send(agent, [result("c.d", "fail")])
        assert first.tick().sent == 1
        headers, body = receiver.requests[1]
        assert headers[SIGNATURE_HEADER] == webhook_signature(
            new_secret, headers[TIMESTAMP_HEADER], body
        )
    finally:
        for engine in engines:
            engine.dispose()


def test_the_roster_in_the_database_escalates(
    server: Server, agent: SignedAgent, receiver: Receiver
) -> None:
    state = server.state
    with state.sessions() as session:
        for name in ("duty", "head", "principal"):
            alerting.create_channel(
                session,
                state.config,
                "admin",
                name,
                "webhook",
                "low",
                receiver.settings(),
                data=state.paths.root,
            )
        alerting.save_roster(
            session,
            state.config,
            "admin",
            [
                Tier(("duty",), (Person("值班员", "13800138000"),), 600),
                Tier(("head",), (Person("主任", "head@school.cn"),), 1200),
                Tier(("principal",), (Person("校长", "010-6666 8888"),)),
            ],
            data=state.paths.root,
        )
        session.commit()
    delivery = ChannelDelivery(state.engine, state.config, state.paths.root)
    send(agent, [result("a.b", "fail"), result("c.d", "fail")])
    now = utcnow()
    assert delivery.tick(now).sent == 2  # tier 1 at once
    with state.engine.begin() as connection:
        connection.execute(update(Alert).where(Alert.check_id == "c.d").values(acknowledged_at=now))
    assert delivery.tick(now + datetime.timedelta(seconds=599)).sent == 0
    assert delivery.tick(now + datetime.timedelta(seconds=601)).sent == 1
    assert delivery.tick(now + datetime.timedelta(seconds=1801)).sent == 1
    with state.sessions() as session:
        rows = session.execute(
            select(AlertNotification.channel, Alert.check_id)
            .join(Alert, Alert.id == AlertNotification.alert_id)
            .order_by(AlertNotification.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("duty", "a.b"),
        ("duty", "c.d"),
        ("head", "a.b"),
        ("principal", "a.b"),
    ]
    assert len(receiver.requests) == 4


def test_deleting_a_channel_fails_its_unsent_notifications(
    server: Server, agent: SignedAgent, receiver: Receiver
) -> None:
    state = server.state
    with state.sessions() as session:
        alerting.create_channel(
            session,
            state.config,
            "admin",
            "hook",
            "webhook",
            "low",
            receiver.settings(),
            data=state.paths.root,
        )
        session.commit()
    send(agent, [result("a.b", "fail")])
    from server.alerts.delivery import queue_notifications

    with state.sessions() as session:
        channels = alerting.load_alerting(session, state.config, data=state.paths.root).channels
    assert queue_notifications(state.engine, channels) == 1
    with state.sessions() as session:
        alerting.delete_channel(session, state.config, "admin", "hook", data=state.paths.root)
        session.commit()
        [row] = session.scalars(select(AlertNotification)).all()
    assert row.status == "failed" and "deleted" in (row.last_error or "")


def test_a_trial_message_goes_through_the_real_notifier(receiver: Receiver) -> None:
    outcome = alerting.send_trial("webhook", receiver.settings(secret=SECRET), "admin")
    assert outcome.ok and "127.0.0.1" in outcome.detail
    [(_headers, body)] = receiver.requests
    sent = json.loads(body)
    assert sent["alert"]["title"]["en"] == "xunjian test message"
    assert sent["alert"]["kind"] == "test"  # a notice: no receiver may take it for an alert
    refused = alerting.send_trial(
        "webhook", {"url": "http://127.0.0.1:9/x", "allow_http": True}, "admin"
    )
    assert not refused.ok and "TemporaryFailure" in refused.detail


# --- the console pages -----------------------------------------------------------------------


def oplog(server: Server) -> list[OplogEntry]:
    with server.state.sessions() as session:
        return list(session.scalars(select(OplogEntry).order_by(OplogEntry.seq)))


def person(server: Server, name: str, role: str) -> FlaskClient:
    with server.state.sessions() as session:
        create_user(session, name, role, "First-pass-2026")
        session.commit()
    client = server.client()
    assert log_in(client, name, "First-pass-2026") == 302
    assert change_password(client, "First-pass-2026", NEW_PASSWORD) == 302
    return client


def version_of(server: Server, name: str = "default") -> int:
    return group_named(server, name).policy_version


def test_settings_pages_are_for_admins(server: Server, admin: FlaskClient) -> None:
    pages = [
        "/settings/groups",
        "/settings/groups/1",
        "/settings/groups/1/approved",
        "/settings/channels",
        "/settings/channels/new?kind=email",
        "/settings/roster",
    ]
    for path in pages:
        assert admin.get(path).status_code == 200, path
    for role in ("operator", "auditor"):
        client = person(server, f"{role}-1", role)
        for path in pages[:-1]:
            assert client.get(path).status_code == 403, (role, path)
        roster = client.get("/settings/roster")
        assert roster.status_code == 200 and 'name="t0.people"' not in roster.get_data(True)
        token = csrf_from(client, "/settings/roster")
        for path, data in [
            ("/settings/groups", {"name": "sneaky"}),
            ("/settings/groups/1/policy", {"c.ssh.root_login": "1"}),
            ("/settings/groups/1/approved", {"users": "mallory"}),
            ("/settings/channels/new", {"kind": "webhook", "name": "x"}),
            ("/settings/roster", {"rows": "0"}),
        ]:
            answer = client.post(path, data={**data, "csrf_token": token})
            assert answer.status_code == 403, (role, path)
    assert version_of(server) == 1 and [g.name for g in groups_in(server)] == ["default"]
    refused = [entry for entry in oplog(server) if entry.outcome == "refused"]
    assert len(refused) == 10


def groups_in(server: Server) -> list[Group]:
    with server.state.sessions() as session:
        return list(session.scalars(select(Group).order_by(Group.id)))


def test_the_policy_page_saves_validates_and_resets(
    server: Server, admin: FlaskClient, agent: SignedAgent
) -> None:
    group = group_named(server)
    token = csrf_from(admin, "/settings/groups/1")
    form = {**full_form(group), "csrf_token": token}
    bad = {**form, "p.accounts.password_age.max_days": "0"}
    answer = admin.post("/settings/groups/1/policy", data=bad)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'data-error="accounts.password_age.max_days"' in page
    assert 'value="0"' in page  # the refused form is shown again as typed
    assert version_of(server) == 1
    assert (
        admin.post("/settings/groups/1/policy", data={**form, "csrf_token": "x"}).status_code == 400
    )
    good = {**form, "p.accounts.password_age.max_days": "30"}
    assert admin.post("/settings/groups/1/policy", data=good).status_code == 302
    assert version_of(server) == 2
    assert agent.policy().get_json()["checks"]["accounts.password_age"]["params"] == {
        "max_days": 30
    }
    page = admin.get("/settings/groups/1").get_data(as_text=True)
    assert 'value="30"' in page and "/settings/groups/1/reset/accounts.password_age" in page
    reset = admin.post("/settings/groups/1/reset/accounts.password_age", data=good)
    assert reset.status_code == 302 and version_of(server) == 3
    entries = [e for e in oplog(server) if e.action.startswith("settings.group")]
    assert [(e.action, e.outcome, e.target) for e in entries] == [
        ("settings.group.policy", "refused", "group:1"),
        ("settings.group.policy", "ok", "group:1"),
        ("settings.group.reset", "ok", "group:1"),
    ]
    assert "accounts.password_age.max_days" in entries[0].reason
    assert json.loads(entries[1].details)["changed"] == ["accounts.password_age.max_days"]


def test_the_approved_lists_page(server: Server, admin: FlaskClient, agent: SignedAgent) -> None:
    token = csrf_from(admin, "/settings/groups/1/approved")
    answer = admin.post(
        "/settings/groups/1/approved",
        data={"csrf_token": token, "users": "alice\nbob;reboot", "software": "vim"},
    )
    assert answer.status_code == 400 and 'data-field="users"' in answer.get_data(as_text=True)
    assert version_of(server) == 1
    answer = admin.post(
        "/settings/groups/1/approved",
        data={"csrf_token": token, "users": "alice\nbob", "software": "vim\nlib*"},
    )
    assert answer.status_code == 302 and version_of(server) == 2
    assert agent.policy().get_json()["approved"] == {
        "users": ["alice", "bob"],
        "software": ["lib*", "vim"],
    }


def test_groups_page_creates_and_renames(server: Server, admin: FlaskClient) -> None:
    token = csrf_from(admin, "/settings/groups")
    assert (
        admin.post("/settings/groups", data={"csrf_token": token, "name": "lab"}).status_code == 302
    )
    refused = admin.post("/settings/groups", data={"csrf_token": token, "name": "lab"})
    assert refused.status_code == 400
    [lab] = [g for g in groups_in(server) if g.name == "lab"]
    renamed = admin.post(
        f"/settings/groups/{lab.id}/rename", data={"csrf_token": token, "name": "lab-a"}
    )
    assert renamed.status_code == 302
    assert [g.name for g in groups_in(server)] == ["default", "lab-a"]
    assert "lab-a" in admin.get("/settings/groups").get_data(as_text=True)


def test_a_console_channel_delivers_and_its_secret_never_shows(
    server: Server, admin: FlaskClient, agent: SignedAgent, receiver: Receiver
) -> None:
    token = csrf_from(admin, "/settings/channels")
    create = {
        "csrf_token": token,
        "kind": "webhook",
        "name": "it-hook",
        "min_severity": "low",
        "s.url": receiver.url,
        "s.allow_http": "1",
        "s.secret": SECRET,
    }
    short = {**create, "s.secret": "too-short"}
    answer = admin.post("/settings/channels/new", data=short)
    assert answer.status_code == 400 and 'data-error="secret"' in answer.get_data(as_text=True)
    assert "too-short" not in answer.get_data(as_text=True)
    assert admin.post("/settings/channels/new", data=create).status_code == 302
    # Saved again with the secret left blank: it is kept.
    edit = {k: v for k, v in create.items() if k not in ("kind", "name")} | {"s.secret": ""}
    assert admin.post("/settings/channels/it-hook", data=edit).status_code == 302
    pages = [
        admin.get(p).get_data(as_text=True)
        for p in ("/settings/channels", "/settings/channels/it-hook")
    ]
    for page in pages:
        assert SECRET not in page
    assert 'data-set="yes"' in pages[1]
    tested = admin.post("/settings/channels/it-hook/test", data={"csrf_token": token})
    assert tested.status_code == 200 and 'data-ok="yes"' in tested.get_data(as_text=True)
    headers, body = receiver.requests[-1]
    assert headers[SIGNATURE_HEADER] == webhook_signature(SECRET, headers[TIMESTAMP_HEADER], body)
    # A real alert, sent by the worker's delivery from what the console stored.
    send(agent, [result("a.b", "fail")])
    assert (
        ChannelDelivery(server.state.engine, server.state.config, server.state.paths.root)
        .tick()
        .sent
        == 1
    )
    assert len(receiver.alert_ids()) == 2
    entries = oplog(server)
    assert [e.action for e in entries if e.action.startswith("settings.channel")] == [
        "settings.channel.create",
        "settings.channel.create",
        "settings.channel.update",
        "settings.channel.test",
    ]
    for entry in entries:
        assert SECRET not in json.dumps(
            [entry.target, entry.reason, entry.details, entry.actor], ensure_ascii=False
        )


def test_the_roster_page_validates_and_escalates_from_the_database(
    server: Server, admin: FlaskClient, agent: SignedAgent, receiver: Receiver
) -> None:
    token = csrf_from(admin, "/settings/channels")
    for name in ("duty", "head"):
        answer = admin.post(
            "/settings/channels/new",
            data={
                "csrf_token": token,
                "kind": "webhook",
                "name": name,
                "min_severity": "low",
                "s.url": receiver.url,
                "s.allow_http": "1",
            },
        )
        assert answer.status_code == 302
    roster = {
        "csrf_token": token,
        "rows": "2",
        "t0.position": "1",
        "t0.people": "王老师, 13800138000",
        "t0.channels": "duty",
        "t0.after": "300",
        "t1.position": "2",
        "t1.people": "Head of IT, head@school.cn",
        "t1.channels": "head",
    }
    bad = {**roster, "t1.people": "Head of IT, call the office"}
    answer = admin.post("/settings/roster", data=bad)
    assert answer.status_code == 400 and 'data-field="tier2.people"' in answer.get_data(True)
    with server.state.sessions() as session:
        assert (
            alerting.load_alerting(session, server.state.config, data=server.state.paths.root).tiers
            == ()
        )
    assert admin.post("/settings/roster", data=roster).status_code == 302
    page = admin.get("/settings/roster").get_data(as_text=True)
    assert "王老师, 13800138000" in page and "head@school.cn" in page
    delivery = ChannelDelivery(server.state.engine, server.state.config, server.state.paths.root)
    send(agent, [result("a.b", "fail")])
    now = utcnow()
    assert delivery.tick(now).sent == 1
    assert delivery.tick(now + datetime.timedelta(seconds=301)).sent == 1
    with server.state.sessions() as session:
        channels = session.scalars(select(AlertNotification.channel)).all()
    assert sorted(channels) == ["duty", "head"]
    # An auditor reads the roster, people and contacts, without a form.
    page = person(server, "audrey", "auditor").get("/settings/roster").get_data(as_text=True)
    assert "13800138000" in page and "<form" not in page.split("</header>")[1]
    deleted = admin.post("/settings/channels/duty/delete", data={"csrf_token": token})
    assert deleted.status_code == 409


def test_a_form_made_before_another_save_is_refused(
    server: Server, admin: FlaskClient, agent: SignedAgent
) -> None:
    """Two admins open the policy page at version 1; the second save must not silently undo
    the first one's change."""
    group = group_named(server)
    token = csrf_from(admin, "/settings/groups/1")
    opened = {**full_form(group), "csrf_token": token, "version": "1"}
    first = {**opened, "p.accounts.password_age.max_days": "30"}
    assert admin.post("/settings/groups/1/policy", data=first).status_code == 302
    second = {**opened, "p.patch.last_install.max_days": "10"}
    answer = admin.post("/settings/groups/1/policy", data=second)
    assert answer.status_code == 409 and 'data-stale="yes"' in answer.get_data(as_text=True)
    checks = agent.policy().get_json()["checks"]
    assert checks["accounts.password_age"]["params"]["max_days"] == 30
    assert checks["patch.last_install"]["params"]["max_days"] == 30  # the default, untouched
    assert version_of(server) == 2
    stale_lists = {"csrf_token": token, "version": "1", "users": "eve", "software": ""}
    assert admin.post("/settings/groups/1/approved", data=stale_lists).status_code == 409
    assert agent.policy().get_json()["approved"]["users"] == []


def test_a_robot_key_in_its_webhook_address_is_never_shown_or_logged(
    server: Server, admin: FlaskClient, receiver: Receiver
) -> None:
    """A DingTalk robot's access token sits in its webhook address, which is therefore a
    secret: not in a refused form, not on any page, not in the operation log."""
    token = csrf_from(admin, "/settings/channels")
    key = "TOPSECRETROBOTKEY0123456789"
    base = {"csrf_token": token, "kind": "dingtalk", "name": "robot", "min_severity": "high"}
    refused = admin.post(
        "/settings/channels/new",
        data={**base, "s.webhook_url": f"http://hooks.example/robot/send?access_token={key}"},
    )
    assert refused.status_code == 400
    assert 'data-error="webhook_url"' in refused.get_data(as_text=True)
    robot_url = receiver.url.replace("/hook", f"/robot/send?access_token={key}")
    created = admin.post(
        "/settings/channels/new",
        data={**base, "s.webhook_url": robot_url, "s.allow_http": "1", "s.secret": "SEC" + key},
    )
    assert created.status_code == 302
    pages = [
        admin.get(path).get_data(as_text=True)
        for path in ("/settings/channels", "/settings/channels/robot", "/settings/roster")
    ]
    pages.append(
        admin.post("/settings/channels/robot/test", data={"csrf_token": token}).get_data(True)
    )
    assert len(receiver.requests) == 1  # the test message went to the robot address
    for text in [*pages, *(json.dumps([e.reason, e.details, e.target]) for e in oplog(server))]:
        assert key not in text
    with server.state.sessions() as session:
        kind, settings = alerting.stored_settings(
            session, server.state.config, "robot", data=server.state.paths.root
        )
    assert kind == "dingtalk" and key in settings["webhook_url"]
