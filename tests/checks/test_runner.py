"""The command runner runs real programs: no shell, a timeout, bounded output."""

from __future__ import annotations

import pytest

from checks.errors import CommandTimeout, CommandUnavailable, NotApplicable
from checks.host import HostContext
from checks.runner import CommandRunner
from tests.checks.hosttree import tool


def test_runs_without_a_shell() -> None:
    result = CommandRunner().run([tool("echo"), "$HOME", ";", "false"])
    assert result.stdout == "$HOME ; false\n"
    assert result.returncode == 0 and not result.truncated


def test_reports_the_exit_status_and_stderr() -> None:
    result = CommandRunner().run([tool("ls"), "/no/such/path"])
    assert result.returncode != 0
    assert "/no/such/path" in result.stderr


def test_missing_program() -> None:
    with pytest.raises(CommandUnavailable, match="xunjian-no-such-program"):
        CommandRunner().run(["xunjian-no-such-program"])


def test_timeout_stops_the_program() -> None:
    with pytest.raises(CommandTimeout, match="sleep"):
        CommandRunner(timeout=0.2).run([tool("sleep"), "30"])


def test_output_is_bounded() -> None:
    result = CommandRunner(max_output_bytes=1000).run([tool("head"), "-c", "5000000", "/dev/zero"])
    assert result.truncated
    assert len(result.stdout) == 1000
    assert result.returncode == 0


def test_host_tree_runs_no_command(tmp_path: object) -> None:
    host = HostContext.tree(tmp_path)  # type: ignore[arg-type]
    with pytest.raises(NotApplicable, match=r"commands are not run when scanning a host tree"):
        host.run([tool("true")], why="testing")


def test_missing_program_makes_the_fact_not_applicable() -> None:
    host = HostContext.live()
    with pytest.raises(NotApplicable, match="not installed"):
        host.run(["xunjian-no-such-program"], why="testing")
