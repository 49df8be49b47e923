"""File events at the server: stored from signed reports, web-shell and sensitive-word alerts
opened and resolved, bad events refused with nothing stored, the API and the CLI."""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from server.alerts.models import Alert
from server.files.models import FileEvent
from server.store.models import Group, Report
from tests.server.conftest import Server, SignedAgent, run_xunjian
from tests.server.test_api import api_token, bearer

SHELL_HASH = hashlib.sha256(b"<?php @eval($_POST['x']);?>").hexdigest()


def now_text() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def event(action: str = "created", path: str = "/srv/www/uploads/a.php", **changes: Any) -> dict:
    document: dict[str, Any] = {
        "action": action,
        "path": path,
        "folder": "/srv/www/uploads",
        "folder_kind": "upload",
        "sha256": SHELL_HASH,
        "size": 27,
        "owner": "www-data",
        "mtime": now_text(),
        "observed_at": now_text(),
        "findings": [],
    }
    document.update(changes)
    return document


def send(agent: SignedAgent, events: list[dict[str, Any]]) -> Any:
    report = agent.report(kind="file_events", results=[], inventory=None, file_events=events)
    return agent.send_report(report)


def counts(server: Server) -> tuple[int, int, int]:
    with server.state.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(FileEvent)) or 0,
            session.scalar(select(func.count()).select_from(Alert)) or 0,
            session.scalar(select(func.count()).select_from(Report)) or 0,
        )


def open_alerts(server: Server) -> list[Alert]:
    with server.state.sessions() as session:
        return list(
            session.scalars(select(Alert).where(Alert.resolved_at.is_(None)).order_by(Alert.id))
        )


WEBSHELL = [{"kind": "webshell", "rule": "php.eval_request"}]


def test_events_are_stored_and_a_webshell_opens_one_critical_alert(
    server: Server, agent: SignedAgent
) -> None:
    answer = send(agent, [event(findings=WEBSHELL), event("created", "/srv/www/uploads/b.txt")])
    assert answer.status_code == 200, answer.get_data(as_text=True)
    alerts = open_alerts(server)
    assert [(a.kind, a.severity, a.agent_id) for a in alerts] == [
        ("webshell", "critical", agent.agent_id)
    ]
    assert "/srv/www/uploads/a.php" in alerts[0].message and SHELL_HASH in alerts[0].message
    # The same file again (modified, still a shell): the same subject, no second alert.
    send(agent, [event("modified", findings=WEBSHELL)])
    assert len(open_alerts(server)) == 1
    # Deleted: resolved by the server.
    send(agent, [event("deleted")])
    assert open_alerts(server) == []
    assert counts(server)[0] == 4


def test_sensitive_word_alert_resolves_when_the_word_is_gone(
    server: Server, agent: SignedAgent
) -> None:
    words = [{"kind": "sensitive_word", "rule": "绝密"}]
    send(agent, [event(path="/srv/www/uploads/doc.txt", findings=words)])
    assert [(a.kind, a.severity) for a in open_alerts(server)] == [("sensitive_file", "high")]
    send(agent, [event("modified", path="/srv/www/uploads/doc.txt")])
    assert open_alerts(server) == []


def test_moving_a_shell_moves_its_alert(server: Server, agent: SignedAgent) -> None:
    send(agent, [event(findings=WEBSHELL)])
    moved = event("moved", "/srv/www/uploads/hidden/a.php", findings=WEBSHELL)
    moved["from_path"] = "/srv/www/uploads/a.php"
    send(agent, [moved])
    alerts = open_alerts(server)
    assert len(alerts) == 1 and "hidden/a.php" in alerts[0].message


def test_a_failing_watcher_opens_an_alert_until_it_recovers(
    server: Server, agent: SignedAgent
) -> None:
    failed = event("watch_failed", "/srv/www/uploads", sha256=None, size=None, owner=None)
    failed["error"] = "not started: OSError(24, 'inotify instance limit reached')"
    answer = send(agent, [failed])
    assert answer.status_code == 200, answer.get_data(as_text=True)
    (alert,) = open_alerts(server)
    assert (alert.kind, alert.severity, alert.agent_id) == ("watch_failed", "high", agent.agent_id)
    assert "/srv/www/uploads" in alert.message and "inotify instance limit" in alert.message
    send(agent, [{**failed, "observed_at": now_text()}])  # told again: still one alert
    assert len(open_alerts(server)) == 1
    recovered = event("watch_recovered", "/srv/www/uploads", sha256=None, size=None, owner=None)
    send(agent, [recovered])
    assert open_alerts(server) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"action": "exploded"},
        {"sha256": "not-a-hash"},
        {"folder_kind": "anything"},
        {"path": ""},
        {"path": "x" * 1025},
        {"findings": [{"kind": "virus", "rule": "x"}]},
        {"observed_at": "yesterday"},
        {"unexpected": 1},
        {"error": "x" * 501},
    ],
)
def test_bad_events_are_refused_and_nothing_is_stored(
    server: Server, agent: SignedAgent, bad: dict[str, Any]
) -> None:
    before = counts(server)
    answer = send(agent, [event(findings=WEBSHELL), {**event(), **bad}])
    assert answer.status_code == 400
    assert "file_events" in answer.get_json()["error"]
    assert counts(server) == before


def test_too_many_events_in_one_report_are_refused(server: Server, agent: SignedAgent) -> None:
    before = counts(server)
    answer = send(agent, [event(path=f"/srv/www/uploads/{i}") for i in range(1001)])
    assert answer.status_code in {400, 413}
    assert counts(server) == before


def test_api_lists_events_newest_first_with_paging_and_filters(
    server: Server, agent: SignedAgent
) -> None:
    send(agent, [event(path=f"/srv/www/uploads/{i}.txt", findings=[]) for i in range(5)])
    send(agent, [event(findings=WEBSHELL)])
    client, headers = server.client(), bearer(api_token(server, "audit", "auditor"))
    page = client.get("/api/v1/file-events?limit=4", headers=headers).get_json()
    assert [e["path"].rsplit("/", 1)[1] for e in page["events"]] == [
        "a.php",
        "4.txt",
        "3.txt",
        "2.txt",
    ]
    assert page["events"][0]["host"] == {"id": agent.agent_id, "hostname": "pc-101"}
    rest = client.get(
        f"/api/v1/file-events?limit=4&before={page['next_before']}", headers=headers
    ).get_json()
    assert len(rest["events"]) == 2 and rest["next_before"] is None
    only = client.get("/api/v1/file-events?findings=only", headers=headers).get_json()
    assert [e["findings"] for e in only["events"]] == [WEBSHELL]
    for query in ("limit=0", "limit=x", "before=-1", "findings=all", "colour=red"):
        assert client.get(f"/api/v1/file-events?{query}", headers=headers).status_code == 400


def test_watch_settings_by_api_reach_the_agents_policy(server: Server, agent: SignedAgent) -> None:
    client = server.client()
    settings = {
        "folders": [
            {"path": "/var/www/html", "kind": "web_root"},
            {"path": "/var/www/html/uploads", "kind": "upload"},
        ],
        "sensitive_words": ["绝密", "机密"],
    }
    auditor = bearer(api_token(server, "audit", "auditor"))
    refused = client.put("/api/v1/groups/default/watch", json=settings, headers=auditor)
    assert refused.status_code == 403
    admin = bearer(api_token(server))
    answer = client.put("/api/v1/groups/default/watch", json=settings, headers=admin)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert client.get("/api/v1/groups/default/watch", headers=auditor).get_json() == settings
    policy = agent.policy().get_json()
    assert policy["watch"] == settings
    for bad in (
        {"folders": [{"path": "relative/dir", "kind": "upload"}]},
        {"folders": [{"path": "/x", "kind": "upload"}, {"path": "/x", "kind": "upload"}]},
        {"folders": [{"path": "/x", "kind": "mailbox"}]},
        {"sensitive_words": [""]},
        {"sensitive_words": ["x" * 101]},
        {"colour": "red"},
        [],
    ):
        answer = client.put("/api/v1/groups/default/watch", json=bad, headers=admin)
        assert answer.status_code == 400, bad
    assert client.get("/api/v1/groups/default/watch", headers=admin).get_json() == settings
    assert client.put("/api/v1/groups/nope/watch", json={}, headers=admin).status_code == 404


def test_cli_sets_and_shows_watch_settings(server: Server, tmp_path: Any) -> None:
    words = tmp_path / "words.txt"
    words.write_text("绝密\n\n机密\n", encoding="utf-8")
    status, out, err = run_xunjian(
        "server",
        "watch",
        "set",
        "default",
        "--data",
        str(server.data),
        "--web-root",
        "/var/www/html",
        "--upload",
        "/var/www/html/uploads",
        "--words-file",
        str(words),
    )
    assert status == 0, err
    status, out, err = run_xunjian("server", "watch", "show", "default", "--data", str(server.data))
    assert status == 0, err
    assert json.loads(out)["sensitive_words"] == ["绝密", "机密"]
    with server.state.sessions() as session:
        group = session.scalar(select(Group).where(Group.name == "default"))
        assert group is not None and group.policy_version == 2
    status, _, err = run_xunjian(
        "server", "watch", "set", "default", "--data", str(server.data), "--upload", "tmp"
    )
    assert status == 1 and "absolute" in err


def _console(server: Server, name: str, role: str) -> Any:
    from server.store.accounts import create_user
    from tests.server.test_console import change_password, log_in

    password = "Initial-pass-1"
    if name != "admin":
        with server.state.sessions() as session:
            create_user(session, name, role, password)
            session.commit()
    else:
        password = server.admin_password
    client = server.client()
    assert log_in(client, name, password) == 302
    assert change_password(client, password, "Changed-pass-2") == 302
    return client


def test_console_page_lists_events_and_admins_set_folders(
    server: Server, agent: SignedAgent
) -> None:
    from tests.server.test_console import csrf_from

    send(agent, [event(findings=WEBSHELL), event(path="/srv/www/uploads/readme.txt")])
    admin = _console(server, "admin", "admin")
    page = admin.get("/files", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "/srv/www/uploads/a.php" in page and "php.eval_request" in page
    assert "/srv/www/uploads/readme.txt" in page
    only = admin.get("/files?findings=only").get_data(as_text=True)
    assert "a.php" in only and "readme.txt" not in only
    assert admin.get("/files?before=x").status_code == 400
    token = csrf_from(admin, "/files")
    form = {
        "csrf_token": token,
        "web_roots": "/var/www/html\n",
        "uploads": "/var/www/html/uploads",
        "words": "绝密\n机密",
    }
    answer = admin.post("/files/watch/default", data=form)
    assert answer.status_code == 302
    assert agent.policy().get_json()["watch"]["sensitive_words"] == ["绝密", "机密"]
    bad = admin.post("/files/watch/default", data={**form, "uploads": "relative/path"})
    assert bad.status_code == 400 and "absolute" in bad.get_data(as_text=True)
    assert agent.policy().get_json()["watch"]["folders"][1]["path"] == "/var/www/html/uploads"
    assert admin.post("/files/watch/default", data={"web_roots": "/x"}).status_code == 400

    auditor = _console(server, "audit", "auditor")
    seen = auditor.get("/files").get_data(as_text=True)
    assert "a.php" in seen and 'name="web_roots"' not in seen
    token = csrf_from(auditor, "/files")
    refused = auditor.post("/files/watch/default", data={**form, "csrf_token": token})
    assert refused.status_code == 403
