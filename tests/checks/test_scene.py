"""The scene's collectors (checks/collectors/linux/scene.py) on a host tree made by the real
tools (useradd, utmpdump -r, touch -d, a network namespace's own /proc/net), and on the live
kernel for what only it has: this test's own process and a socket it holds."""

from __future__ import annotations

import hashlib
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checks.collectors.linux import scene
from checks.errors import NotApplicable
from checks.host import HostContext
from tests.checks.hosttree import HostTree, base_tree

NOW = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> HostTree:
    if os.geteuid() != 0:
        pytest.fail("building host trees runs useradd --root, which chroots: run as root")
    tree = base_tree(tmp_path_factory.mktemp("scene"))
    tree.useradd("alice")
    tree.write_wtmp(
        [
            ("alice", "pts/0", NOW - timedelta(hours=3)),
            ("root", "pts/1", NOW - timedelta(minutes=5)),
        ]
    )
    # Who is on now: utmp has wtmp's record format (utmpdump -r wrote both).
    tree.path("/run").mkdir(parents=True, exist_ok=True)
    tree.path("/run/utmp").write_bytes(tree.path("/var/log/wtmp").read_bytes())
    tree.write_wtmp([("alice", "pts/0", NOW - timedelta(hours=3))])
    lines = [
        f"Dec  7 06:{n % 60:02d}:00 pc-101 sshd[{n}]: Failed password for root" for n in range(50)
    ]
    tree.write("/var/log/auth.log", "\n".join(lines) + "\n")
    tree.write("/etc/crontab", "@reboot root /var/tmp/.cache/run.sh\n")
    tree.write("/var/tmp/.cache/run.sh", "#!/bin/sh\n", mode=0o755)
    tree.write("/tmp/old.txt", "left long ago\n")
    tree.touch("/tmp/old.txt", NOW - timedelta(days=40))
    tree.write("/var/www/html/shell.php", "<?php eval($_POST[1]);\n")
    tree.capture_sockets(tcp=[("127.0.0.1", 2222)], udp=[("0.0.0.0", 5353)])
    tree.write(
        "/proc/modules",
        "nf_tables 315392 0 - Live 0x0000000000000000\n"
        "rootkit 16384 1 nf_tables, Live 0x0000000000000000 (OE)\n",
    )
    return tree


def _host(tree: HostTree) -> HostContext:
    return HostContext.tree(tree.root)


def test_logins_come_from_wtmp_newest_first(tree: HostTree) -> None:
    logins = scene.collect_logins(_host(tree), scene.SceneLimits())
    assert [(r["user"], r["line"]) for r in logins["recent"]] == [("alice", "pts/0")]
    assert logins["recent"][0]["at"] == "2026-12-07T04:00:00Z"
    assert [(r["user"], r["line"], r["at"]) for r in logins["logged_in"]] == [
        ("alice", "pts/0", "2026-12-07T04:00:00Z"),
        ("root", "pts/1", "2026-12-07T06:55:00Z"),
    ]
    assert logins["logged_in"][1]["host"] == "10.0.0.6"
    assert logins["sources"] == ["/run/utmp", "/var/log/wtmp"]


def test_the_auth_log_tail_is_bounded_by_lines_and_bytes(tree: HostTree) -> None:
    text = scene.collect_auth_log(_host(tree), scene.SceneLimits(auth_log_max_lines=10))
    body = text.splitlines()[1:]
    assert len(body) == 10 and body[-1].endswith("sshd[49]: Failed password for root")
    cut = scene.collect_auth_log(_host(tree), scene.SceneLimits(auth_log_max_bytes=200))
    # Only whole lines: the one the byte bound cut is dropped.
    assert all(line.startswith("Dec  7") for line in cut.splitlines()[1:])
    assert len(cut.splitlines()) - 1 < 5


def test_recent_files_hashed_old_ones_left_out(tree: HostTree) -> None:
    folders = ["/tmp", "/var/tmp", "/var/www", "/srv/uploads"]
    found = scene.collect_recent_files(
        _host(tree), folders, NOW.timestamp() + 3600 * 24 * 365, scene.SceneLimits(recent_days=400)
    )
    paths = {f["path"]: f for f in found["files"]}
    assert "/var/tmp/.cache/run.sh" in paths and "/var/www/html/shell.php" in paths
    shell = tree.path("/var/www/html/shell.php").read_bytes()
    assert paths["/var/www/html/shell.php"]["sha256"] == hashlib.sha256(shell).hexdigest()
    assert found["missing"] == ["/srv/uploads"]
    # touch -d set the modification time back 40 days, but not the change time (the kernel's
    # own, which no user can set): a back-dated file is still listed, with both times.
    recent = scene.collect_recent_files(
        _host(tree), folders, datetime.now(UTC).timestamp(), scene.SceneLimits(recent_days=7)
    )
    [old] = [f for f in recent["files"] if f["path"] == "/tmp/old.txt"]
    assert old["modified_at"] == (NOW - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert old["changed_at"] > old["modified_at"]
    later = datetime.now(UTC) + timedelta(days=30)
    assert (
        scene.collect_recent_files(_host(tree), folders, later.timestamp(), scene.SceneLimits())[
            "files"
        ]
        == []
    )
    bounded = scene.collect_recent_files(
        _host(tree), folders, datetime.now(UTC).timestamp(), scene.SceneLimits(max_files_listed=1)
    )
    assert len(bounded["files"]) == 1 and bounded["truncated"] is True


def test_jobs_sockets_and_modules_of_the_tree(tree: HostTree) -> None:
    jobs = scene.collect_jobs(_host(tree))
    assert [j["command"] for j in jobs] == ["/var/tmp/.cache/run.sh"]
    sockets = scene.collect_connections(_host(tree), scene.SceneLimits())
    listening = {
        (s["protocol"], s["local_address"], s["local_port"]) for s in sockets if s["listening"]
    }
    assert {("tcp", "127.0.0.1", 2222), ("udp", "0.0.0.0", 5353)} <= listening
    modules = scene.collect_modules(_host(tree))
    assert modules[1] == {
        "name": "rootkit",
        "size": 16384,
        "used_by_count": 1,
        "used_by": ["nf_tables"],
        "state": "Live",
        "taint": "OE",
    }


def test_no_process_table_is_not_applicable(tree: HostTree) -> None:
    with pytest.raises(NotApplicable):
        scene.collect_process_details(_host(tree), _host(tree), scene.SceneLimits())


def test_the_live_kernel_shows_this_process_and_its_socket() -> None:
    live = HostContext.live()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        processes = scene.collect_process_details(live, live, scene.SceneLimits())
        sockets = scene.collect_connections(live, scene.SceneLimits())
    [me] = [p for p in processes if p["pid"] == os.getpid()]
    exe = Path(os.readlink("/proc/self/exe"))
    assert me["exe"] == str(exe)
    assert me["exe_sha256"] == hashlib.sha256(exe.read_bytes()).hexdigest()
    assert me["ppid"] == os.getppid() and me["uid"] == os.getuid()
    assert me["command"][0].endswith(("python", "python3", "pytest")) or me["command"]
    assert me["started_at"] is not None
    [mine] = [s for s in sockets if s["local_port"] == port and s["listening"]]
    assert mine["pid"] == os.getpid() and mine["state"] == "LISTEN"
