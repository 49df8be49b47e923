"""The small pieces of the deployment: the summary, the host probe's parsing, the bundle's
platform tags, the unit and the fallback starter."""

from __future__ import annotations

import subprocess
from importlib import resources
from pathlib import Path

import pytest

from xunjian.deploy.bundle import Target, prune_bundles, source_stamp
from xunjian.deploy.display import summary
from xunjian.deploy.failures import REASONS, DeployFailure
from xunjian.deploy.inventory import HostEntry
from xunjian.deploy.layout import (
    EXEC_START,
    UNIT_NAME,
    LayoutError,
    fallback_script,
    source_root,
    unit_text,
)
from xunjian.deploy.steps import HostOutcome, Probe


def host(index: int, address: str, name: str | None = None, port: int = 22) -> HostEntry:
    return HostEntry(
        index=index, address=address, port=port, user="admin", group="lab", sudo=True, name=name
    )


def test_summary_table_failures_and_counts() -> None:
    ok = HostOutcome(host(1, "10.0.0.1", "pc-1"), ok=True, agent_id="a" * 36)
    ok.changes += ["installed 0.1.0+abc", "agent started (systemd)"]
    ok.started_by, ok.report = "systemd", "stored"
    same = HostOutcome(host(2, "10.0.0.2"), ok=True, agent_id="b" * 36, started_by="fallback")
    same.report = "stored"
    same.notes.append("no running systemd")
    failed = HostOutcome(
        host(3, "10.0.0.3", port=2222),
        reason="host key mismatch",
        message="the host presented X\nbut Y is pinned",
    )
    text = summary([ok, same, failed])
    lines = text.splitlines()
    assert lines[0].split() == ["HOST", "RESULT", "AGENT", "STARTED", "BY", "FIRST", "REPORT"]
    assert lines[2].startswith("pc-1 (10.0.0.1)")
    assert "changed" in lines[2] and "systemd" in lines[2] and "stored" in lines[2]
    assert "up to date" in lines[3]
    assert "FAILED: host key mismatch" in lines[4] and lines[4].startswith("10.0.0.3:2222")
    assert (
        "Failures:\n  10.0.0.3:2222: host key mismatch: the host presented X\n      but Y" in text
    )
    assert "  pc-1 (10.0.0.1): installed 0.1.0+abc" in text
    assert "  10.0.0.2: note: no running systemd" in text
    assert lines[-1] == "3 host(s): 2 ok (1 changed, 1 up to date), 1 failed"


def test_summary_of_an_uninstall() -> None:
    removed = HostOutcome(host(1, "10.0.0.1"), action="uninstall", ok=True)
    removed.changes.append("removed /opt/xunjian")
    nothing = HostOutcome(host(2, "10.0.0.2"), action="uninstall", ok=True)
    text = summary([removed, nothing])
    assert text.splitlines()[0].split() == ["HOST", "RESULT", "AGENT"]
    assert "removed" in text.splitlines()[2] and "nothing to remove" in text.splitlines()[3]
    assert text.splitlines()[-1] == "2 host(s): 2 ok (1 changed, 1 had nothing installed), 0 failed"


def test_failure_reasons_are_a_closed_set() -> None:
    assert {"unreachable", "host key mismatch", "authentication", "sudo", "install"} <= set(REASONS)
    with pytest.raises(AssertionError):
        DeployFailure("something else", "x")


PROBE_OUTPUT = """python=/usr/bin/python3
pyinfo={"version": [3, 11], "machine": "x86_64", "libc": ["glibc", "2.36"], "venv": true}
stamp=0.1.0+0123456789ab
venv=ok
agent={"agent_id": "5b1d", "server_url": "https://10.0.0.5:8443"}
noise=ignored
"""


def test_probe_parse() -> None:
    probe = Probe.parse(PROBE_OUTPUT)
    assert probe.stamp == "0.1.0+0123456789ab" and probe.venv_ok and not probe.systemd
    assert probe.agent == {"agent_id": "5b1d", "server_url": "https://10.0.0.5:8443"}
    assert probe.target("h") == Target(python=(3, 11), machine="x86_64", glibc=(2, 36))


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("python=\n", "has no python3"),
        (
            'python=/usr/bin/python3\npyinfo={"version": [3, 11], "machine": "x86_64", '
            '"libc": ["glibc", "2.36"], "venv": false}\n',
            "python3-venv",
        ),
        (
            'python=/usr/bin/python3\npyinfo={"version": [3, 12], "machine": "x86_64", '
            '"libc": ["", ""], "venv": true}\n',
            "glibc",
        ),
    ],
)
def test_probe_refuses_an_unfit_host(output: str, expected: str) -> None:
    with pytest.raises(DeployFailure) as caught:
        Probe.parse(output).target("pc-9")
    assert caught.value.reason == "install"
    assert expected in caught.value.message


def test_platform_tags_follow_glibc() -> None:
    tags = Target(python=(3, 11), machine="x86_64", glibc=(2, 28)).platforms()
    assert "manylinux2014_x86_64" in tags
    assert "manylinux_2_28_x86_64" in tags and "manylinux_2_29_x86_64" not in tags
    arm = Target(python=(3, 12), machine="aarch64", glibc=(2, 17)).platforms()
    assert arm == ["manylinux2014_aarch64", "manylinux_2_17_aarch64"]
    assert Target((3, 12), "aarch64", (2, 17)).key == "cp312-aarch64-glibc2.17"


def test_source_stamp_follows_the_sources(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nversion = "1.2.3"\ndependencies = []\n')
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "a.py").write_text("x = 1\n")
    first = source_stamp(tmp_path)
    assert first.startswith("1.2.3+") and len(first) == len("1.2.3+") + 12
    (tmp_path / "agent" / "__pycache__").mkdir()
    (tmp_path / "agent" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    assert source_stamp(tmp_path) == first
    (tmp_path / "agent" / "a.py").write_text("x = 2\n")
    assert source_stamp(tmp_path) != first


def test_old_bundles_are_pruned_but_the_current_and_the_previous_stay(tmp_path: Path) -> None:
    import os

    stamps = [f"0.1.0+{index:012x}" for index in range(4)]
    for age, stamp in enumerate(stamps):  # stamps[0] is the newest, stamps[3] the oldest
        (tmp_path / stamp / "cp311-x86_64-glibc2.36").mkdir(parents=True)
        os.utime(tmp_path / stamp, (1_700_000_000 - age * 60, 1_700_000_000 - age * 60))
    (tmp_path / ".cp311.scratch").mkdir()  # not a stamp: left alone
    # The current stamp is the oldest folder (a checkout went back): it still stays.
    gone = prune_bundles(tmp_path, current=stamps[3])
    assert sorted(gone) == [stamps[1], stamps[2]]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [".cp311.scratch", stamps[0], stamps[3]]
    )


def test_unit_matches_the_layout(tmp_path: Path) -> None:
    text = unit_text()
    assert f"ExecStart={EXEC_START}" in text
    for hardening in ("NoNewPrivileges=yes", "ProtectSystem=strict", "Restart=always"):
        assert hardening in text
    assert "ReadWritePaths=/var/lib/xunjian/agent" in text
    changed = tmp_path / "xunjian-agent.service"
    changed.write_text(text.replace(EXEC_START, "/usr/bin/xunjian agent run"))
    with pytest.raises(LayoutError, match="ExecStart must be exactly"):
        unit_text(changed)


def test_one_unit_the_packaged_one() -> None:
    """deploy/systemd/ (for installing by hand, docs/operations.md) links to the package's unit,
    which deploy ssh installs, from a checkout or a wheel alike: they can never differ."""
    by_hand = source_root() / "deploy" / "systemd" / UNIT_NAME
    packaged = resources.files("xunjian.deploy").joinpath(UNIT_NAME)
    assert by_hand.read_bytes() == packaged.read_bytes()
    assert by_hand.is_symlink() and by_hand.resolve() == Path(str(packaged)).resolve()
    assert unit_text() == packaged.read_text(encoding="utf-8")


def test_fallback_script_is_valid_sh(tmp_path: Path) -> None:
    script = tmp_path / "xunjian-agent-service"
    script.write_text(fallback_script())
    subprocess.run(["sh", "-n", str(script)], check=True, timeout=30)
    assert EXEC_START in script.read_text()
    usage = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2 and "usage" in usage.stderr


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """The unit as shipped, with ExecStart pointed at a program that exists here."""
    unit = tmp_path / "xunjian-agent.service"
    unit.write_text(unit_text().replace(EXEC_START, "/bin/true"))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for directive in ("ProtectKernelLogs=yes", "RestrictNamespaces=yes", "UMask=0077"):
        assert directive in unit.read_text()
