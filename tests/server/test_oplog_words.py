"""Issue 13 item 17: the operation log as people read it: actions as words in the reader's
language (the id beside them, for the filter), the target filled in, and "not signed in" for a
request made before anyone signed in. The log keeps the ids (server/oplog/words.py)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from server.oplog.hook import ACTIONS
from server.oplog.words import ACTION_WORDS
from tests.server.conftest import Server
from tests.server.test_console import csrf_from
from tests.server.test_oplog_console import entries, person

SERVER = Path(__file__).resolve().parents[2] / "server"
# The monitor added below names a documentation address (192.0.2.0/24), allowed as an admin
# allows a network; nothing fetches it within the test.
LAB_ALLOWED = {"monitor_allowed_networks": ["192.0.2.0/24"]}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
RECORDING_FUNCTIONS = {"record", "make", "_record", "record_command"}


def recorded_names() -> set[str]:
    """Every action id the server's code writes with a literal name (record(...),
    EntryFields.make(...), the commands' helpers), read with ast as tests/test_layering.py
    reads imports. f-strings ("monitor.baseline.{verb}") are left to the endpoint list."""
    names: set[str] = set()
    for path in SERVER.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in RECORDING_FUNCTIONS:
                names.update(
                    argument.value
                    for argument in node.args
                    if isinstance(argument, ast.Constant)
                    and isinstance(argument.value, str)
                    and re.fullmatch(r"[a-z_]+\.[a-z_.]+", argument.value)
                )
            if name == "record_cli_action" and len(node.args) > 2:
                argument = node.args[2]
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    names.add(argument.value)
    return names


@pytest.fixture
def server_settings() -> dict[str, object]:
    return LAB_ALLOWED


def test_every_action_the_server_records_has_words(server: Server) -> None:
    """A new view or record() without words here fails, naming it."""
    endpoints = set()
    for rule in server.app.url_map.iter_rules():
        if rule.methods and rule.methods & WRITE_METHODS:
            parts = rule.endpoint.split(".")
            endpoint = f"{parts[0]}.{parts[-1]}"  # as hook._action_endpoint names it
            endpoints.add(ACTIONS.get(endpoint, endpoint))
    wanted = endpoints | set(ACTIONS.values()) | recorded_names()
    assert len(wanted) > 60
    assert sorted(wanted - ACTION_WORDS.keys()) == []


def test_the_page_shows_words_targets_and_not_signed_in(server: Server) -> None:
    # A sign-in with a wrong password: nobody is signed in yet.
    stranger = server.client()
    refused = stranger.post(
        "/login",
        data={"name": "nobody", "password": "wrong", "csrf_token": csrf_from(stranger, "/login")},
    )
    assert refused.status_code in (200, 400, 401)
    adam = person(server, "adam", "admin")
    added = adam.post(
        "/monitors",
        data={
            "url": "https://192.0.2.10/",
            "name": "Lab",
            "csrf_token": csrf_from(adam, "/monitors"),
        },
    )
    assert added.status_code == 303
    monitor_id = re.search(r"/monitors/(\d+)", added.headers["Location"]).group(1)
    words = adam.post(
        "/monitors/words",
        data={"words": "博彩\n", "csrf_token": csrf_from(adam, "/monitors")},
    )
    assert words.status_code == 303

    logged = {entry.action: entry for entry in entries(server)}
    assert logged["monitors.add"].target == f"monitor:{monitor_id}"
    assert logged["monitors.words"].target == "path:/monitors/words"
    # The log keeps the ids.
    assert [(e.actor, e.role) for e in entries(server) if e.target == "user:nobody"] == [
        ("anonymous", "none")
    ]

    page = adam.get("/oplog", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    rows = {
        match["seq"]: match["row"]
        for match in re.finditer(r'<tr data-seq="(?P<seq>\d+)">(?P<row>.*?)</tr>', page, re.S)
    }
    by_action = {}
    for row in rows.values():
        code = re.search(r"<small><code>([a-z_.]+)</code></small>", row)
        if code:
            by_action.setdefault(code.group(1), row)
    add_row = by_action["monitors.add"]
    assert '<td class="oplog-action">添加监测<br>' in add_row
    assert f'<td class="wrap oplog-target">monitor:{monitor_id}</td>' in add_row
    assert '<td class="oplog-role">管理员</td>' in add_row
    refused_row = next(
        row for row in rows.values() if "<code>console.login</code>" in row and "nobody" in row
    )
    assert '<td class="wrap oplog-actor">未登录</td>' in refused_row
    assert '<td class="oplog-role">未登录</td>' in refused_row
    assert '<td class="oplog-action">登录<br>' in refused_row
    assert "user:nobody" in refused_row

    english = adam.get("/oplog", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<td class="oplog-action">monitor added<br>' in english
    assert '<td class="wrap oplog-actor">not signed in</td>' in english
