"""The top of the ``xunjian`` command (xunjian/cli.py) builds only the command being run, from
its owner's parser: the agent's commands and ``xunjian scan`` import none of the server's
dependencies, and every command the README lists still parses."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from xunjian.cli import COMMANDS, build_parser

SERVER_ONLY = ("flask", "sqlalchemy", "alembic", "argon2", "cheroot", "psycopg", "jinja2")


def test_agent_commands_run_without_the_server_dependencies(tmp_path: Path) -> None:
    probe = textwrap.dedent(
        f"""
        import json, sys
        from xunjian.cli import main
        status = main(["agent", "status", "--state", {str(tmp_path / "state")!r}, "--json"])
        for words in (["scan", "--help"], ["agent", "enroll", "--help"], ["--help"]):
            try:
                main(words)
            except SystemExit:
                pass
        print(json.dumps({{"status": status, "modules": sorted(sys.modules)}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["status"] == 1  # not enrolled: the command ran and said so
    heavy = [name for name in report["modules"] if name.split(".")[0] in SERVER_ONLY]
    assert heavy == []


@pytest.mark.parametrize(
    "words",
    [
        ["server", "init", "--data", "d", "--hostname", "h"],
        ["server", "run", "--listen", "127.0.0.1:9"],
        ["server", "token", "create", "--uses", "2", "--expires", "7d", "--group", "lab"],
        ["server", "user", "add", "olga", "--role", "operator"],
        ["server", "agent", "list"],
        ["server", "agent", "revoke", "x"],
        ["server", "agent", "rebaseline", "x"],
        ["server", "apitoken", "create", "--user", "olga"],
        ["server", "oplog", "verify"],
        ["server", "oplog", "purge"],
        ["server", "device", "list"],
        ["server", "report", "weekly", "--week", "2026-W47", "--format", "csv", "--out", "f"],
        ["server", "monitor", "add", "https://example.org/"],
        ["server", "watch", "show", "default"],
        ["agent", "enroll", "--server", "https://s", "--token", "t", "--ca-sha256", "c"],
        ["scan", "--json"],
        ["deploy", "ssh", "--inventory", "hosts.toml"],
        ["report", "verify", "report.json"],
        ["demo"],
    ],
)
def test_each_command_parses_to_the_function_its_owner_runs(words: list[str]) -> None:
    whole = build_parser().parse_args(words)
    alone = build_parser(words[0]).parse_args(words)
    assert callable(whole.handler)
    assert whole.handler is alone.handler
    assert whole.handler.__name__.endswith(("_command", "_verify"))


def test_the_top_lists_every_command_without_building_it() -> None:
    listed = build_parser("").format_help()
    for top in COMMANDS:
        assert top.name in listed and top.help in listed
