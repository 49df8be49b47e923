"""Issue 13 item 9: the ``xunjian server`` commands find the data folder the server uses.

``server init`` and ``server run`` leave a pointer (xunjian/core/paths.py); the other commands,
without --data, work on that folder and say so on stderr. A pointer to a folder that is gone
is ignored; ``server init`` never follows it. Every command the console prints carries --data
and runs as printed."""

from __future__ import annotations

import html
import re
import shlex
from pathlib import Path

import pytest

from tests.data_folder import run_xunjian
from tests.server.conftest import Server
from tests.server.test_oplog_console import person
from xunjian.core import paths
from xunjian.core.paths import POINTER_ENV, pointed_server_data


@pytest.fixture
def pointer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pointer of this test's own, and a home of its own for the fixed default folder, as
    for a user other than root (whose default, /var/lib/xunjian/server, a test must not make)."""
    monkeypatch.setattr(paths, "_is_root", lambda: False)
    path = tmp_path / "pointer" / "server-data"
    monkeypatch.setenv(POINTER_ENV, str(path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XUNJIAN_DATA", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    return path


@pytest.mark.real_server_init
def test_commands_without_data_use_the_folder_init_made(
    server: Server, pointer: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    status, _out, err = run_xunjian("server", "init", "--data", str(elsewhere))
    assert status == 0, err
    assert pointer.read_text().strip() == str(elsewhere.resolve())
    assert pointed_server_data() == elsewhere.resolve()

    status, out, err = run_xunjian("server", "token", "create", "--group", "lab-a")
    assert status == 0, err
    assert "xunjian agent enroll --server" in out
    assert f"data folder {elsewhere.resolve()}" in err and str(pointer) in err
    status, out, err = run_xunjian("server", "oplog", "verify")
    assert status == 0, err

    # `server init` without --data makes the fixed default folder, not the pointed one.
    status, out, err = run_xunjian("server", "init")
    assert status == 0, err
    fixed = tmp_path / "home" / ".local/share/xunjian/server"
    assert (fixed / "config.json").is_file()
    assert pointed_server_data() == fixed.resolve()


def test_a_pointer_to_a_removed_folder_is_ignored(pointer: Path, tmp_path: Path) -> None:
    pointer.parent.mkdir(parents=True)
    pointer.write_text(f"{tmp_path / 'gone'}\n")
    status, _out, err = run_xunjian("server", "oplog", "verify")
    assert status == 1
    fixed = tmp_path / "home" / ".local/share/xunjian/server"
    assert f"{fixed / 'config.json'} does not exist" in err


def test_the_console_prints_commands_with_the_data_folder_that_run_as_printed(
    server: Server,
) -> None:
    adam = person(server, "adam", "admin")
    page = adam.get("/oplog", headers={"Accept-Language": "en"}).get_data(as_text=True)
    printed = re.search(r"<code>(xunjian server oplog verify[^<]*)</code>", page)
    assert printed is not None
    words = shlex.split(html.unescape(printed.group(1)))
    assert words[-2:] == ["--data", str(server.data.resolve())]
    status, out, err = run_xunjian(*words[1:])
    assert status == 0, err
    assert out.startswith("operation log intact: ")

    retention = adam.get("/settings/retention").get_data(as_text=True)
    assert f"<code>xunjian server oplog purge --data {server.data.resolve()}</code>" in retention
    hosts = adam.get("/hosts").get_data(as_text=True)
    assert f"<code>xunjian server token create --data {server.data.resolve()}</code>" in hosts
