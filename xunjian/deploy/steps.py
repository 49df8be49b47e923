"""What is done on one host. Every step looks before it changes anything, so a second run on an
up-to-date host changes nothing, and a run on an old host upgrades it:

1. connect (pinned host key), become root (root login, or sudo with or without a password)
2. probe: python3 and its venv module, the installed stamp, systemd, an existing enrollment
3. install the bundle when the stamp differs (or the venv is broken): upload over SFTP, then
   ``pip install --no-index --find-links`` into /opt/xunjian/venv
4. enroll with a single-use token made on the server, unless already enrolled with it
5. write agent.json's settings from the inventory
6. write the unit and the fallback starter when they differ; ``systemd-analyze verify`` the unit
7. start (or restart, when anything changed) by systemd, or by the fallback without systemd
8. wait until the server has stored the agent's first report

Uninstall stops the agent, removes everything in ``layout.INSTALLED_PATHS`` and revokes the
agent's identity on the server.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from xunjian.deploy.bundle import BundleBuilder, BundleError, Target
from xunjian.deploy.failures import (
    ENROLL,
    INSTALL,
    NO_REPORT,
    START,
    UNINSTALL,
    DeployFailure,
)
from xunjian.deploy.inventory import HostEntry
from xunjian.deploy.layout import (
    FALLBACK,
    FALLBACK_LOG,
    HOST_HELPER,
    INSTALL_DIR,
    INSTALLED_PATHS,
    STAMP,
    STATE_DIR,
    STATE_PARENT,
    UNIT_NAME,
    UNIT_PATH,
    VENV,
    fallback_script,
    unit_text,
)
from xunjian.deploy.remote import Connection, KnownHosts
from xunjian.deploy.serverside import ServerSide

Progress = Callable[[HostEntry, str], None]
REPORT_POLL_SECONDS = 2.0

_PYINFO = """
import json, platform, sys
try:
    import venv
    has_venv = True
except ImportError:
    has_venv = False
libc = platform.libc_ver()
print("pyinfo=" + json.dumps({"version": list(sys.version_info[:2]),
    "machine": platform.machine(), "libc": [libc[0], libc[1]], "venv": has_venv}))
"""
_AGENTINFO = """
import json, sys
with open(sys.argv[1]) as handle:
    config = json.load(handle)
print("agent=" + json.dumps({"agent_id": config.get("agent_id"),
    "server_url": config.get("server_url"), "group": config.get("group")}))
"""
PROBE = f"""
PY=$(command -v python3 || true)
echo "python=$PY"
if [ -n "$PY" ]; then "$PY" -c {shlex.quote(_PYINFO)} || true; fi
if [ -f {STAMP} ]; then echo "stamp=$(head -c 200 {STAMP} | tr -d '\\n')"; fi
if [ -x {VENV}/bin/xunjian ] && {VENV}/bin/xunjian --version >/dev/null 2>&1; then
    echo venv=ok
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then echo systemd=running; fi
if [ -f {STATE_DIR}/agent.json ] && [ -n "$PY" ]; then
    "$PY" -c {shlex.quote(_AGENTINFO)} {STATE_DIR}/agent.json || echo agent=damaged
fi
"""


@dataclass
class HostOutcome:
    """What happened on one host; ``changes`` empty on success means it was up to date."""

    host: HostEntry
    action: str = "deploy"
    ok: bool = False
    reason: str | None = None
    message: str = ""
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    agent_id: str | None = None
    started_by: str | None = None
    report: str = ""
    unit_verified: bool = False

    def details(self) -> dict[str, Any]:
        return {
            "address": self.host.address,
            "port": self.host.port,
            "user": self.host.user,
            "group": self.host.group,
            "agent_id": self.agent_id,
            "changes": self.changes,
            "started_by": self.started_by,
            "report": self.report,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Probe:
    python: str
    pyinfo: dict[str, Any] | None
    stamp: str | None
    venv_ok: bool
    systemd: bool
    agent: dict[str, Any] | None
    agent_damaged: bool

    @classmethod
    def parse(cls, output: str) -> Probe:
        values: dict[str, str] = {}
        for line in output.splitlines():
            key, sep, value = line.partition("=")
            if sep and key in ("python", "pyinfo", "stamp", "venv", "systemd", "agent"):
                values[key] = value.strip()
        pyinfo = agent = None
        with contextlib.suppress(ValueError):
            pyinfo = json.loads(values["pyinfo"]) if "pyinfo" in values else None
        damaged = values.get("agent") == "damaged"
        try:
            agent = json.loads(values["agent"]) if "agent" in values and not damaged else None
        except ValueError:
            damaged = True
        return cls(
            python=values.get("python", ""),
            pyinfo=pyinfo if isinstance(pyinfo, dict) else None,
            stamp=values.get("stamp") or None,
            venv_ok=values.get("venv") == "ok",
            systemd=values.get("systemd") == "running",
            agent=agent if isinstance(agent, dict) else None,
            agent_damaged=damaged,
        )

    def target(self, address: str) -> Target:
        if not self.python:
            raise DeployFailure(
                INSTALL,
                f"{address} has no python3; install it (Debian/Ubuntu: apt-get install python3 "
                "python3-venv; RHEL family: dnf install python3)",
            )
        info = self.pyinfo
        if info is None:
            raise DeployFailure(INSTALL, f"{self.python} on {address} did not run")
        if not info.get("venv"):
            raise DeployFailure(
                INSTALL,
                f"{self.python} on {address} has no venv module; install it (Debian/Ubuntu: "
                "apt-get install python3-venv)",
            )
        libc = info.get("libc") or ["", ""]
        try:
            version = (int(info["version"][0]), int(info["version"][1]))
            glibc_parts = str(libc[1]).split(".")
            glibc = (int(glibc_parts[0]), int(glibc_parts[1]))
        except (KeyError, IndexError, TypeError, ValueError):
            raise DeployFailure(
                INSTALL,
                f"{address}: the agent's bundle needs a Linux host with glibc (found "
                f"{libc[0] or 'no'} C library)",
            ) from None
        if libc[0] != "glibc":
            raise DeployFailure(INSTALL, f"{address}: glibc is required, found {libc[0]}")
        return Target(python=version, machine=str(info.get("machine", "")), glibc=glibc)


@dataclass
class Context:
    server: ServerSide
    builder: BundleBuilder | None  # None when uninstalling
    known_hosts: KnownHosts
    progress: Progress
    report_timeout: float


def _check(done: Any, reason: str, what: str) -> None:
    if done.status != 0:
        raise DeployFailure(reason, f"{what} failed (exit {done.status}):\n{done.tail()}")


def _connect(host: HostEntry, context: Context, outcome: HostOutcome) -> Connection:
    context.progress(host, "connecting")
    connection = Connection(host, context.known_hosts)
    try:
        connection.open()
    finally:
        # Recorded before the login, so said even when the login then fails.
        if connection.recorded_key:
            outcome.notes.append(
                f"host key recorded on first use: {connection.recorded_key}; compare it with "
                "the host's own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub)"
            )
    try:
        connection.become_root()
    except BaseException:
        connection.close()
        raise
    return connection


def _probe(connection: Connection) -> Probe:
    done = connection.run(PROBE, root=True, timeout=120)
    _check(done, INSTALL, "checking the host")
    return Probe.parse(done.stdout)


def _staging(connection: Connection) -> str:
    done = connection.run("mktemp -d /tmp/xunjian-deploy.XXXXXXXX", timeout=60)
    _check(done, INSTALL, "making a staging folder in /tmp")
    path = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if not path.startswith("/tmp/xunjian-deploy."):
        raise DeployFailure(INSTALL, f"mktemp printed {path!r:.80}")
    return path


def _install(
    connection: Connection, probe: Probe, context: Context, staging: str, outcome: HostOutcome
) -> None:
    host = connection.host
    if context.builder is None:
        raise DeployFailure(INSTALL, "no bundle to install (the command was run to uninstall)")
    try:
        bundle = context.builder.bundle_for(probe.target(host.address))
    except BundleError as exc:
        raise DeployFailure(INSTALL, f"the offline bundle: {exc}") from None
    if probe.stamp == bundle.stamp and probe.venv_ok:
        return
    verb = "upgrading" if probe.stamp else "installing"
    context.progress(host, f"{verb}: uploading {len(bundle.wheels)} wheels ({bundle.target.key})")
    for wheel in bundle.wheels:
        connection.put(wheel, f"{staging}/{wheel.name}")
    context.progress(host, f"{verb} xunjian {bundle.stamp} into {VENV}")
    q = shlex.quote
    script = f"""
set -eu
umask 022
install -d -m 0755 {INSTALL_DIR} {INSTALL_DIR}/bin
if ! {VENV}/bin/python -c '' >/dev/null 2>&1; then
    rm -rf {VENV}
    python3 -m venv --without-pip {VENV}
fi
PIP_CONFIG_FILE=/dev/null {VENV}/bin/python {q(f"{staging}/{bundle.pip_wheel.name}")}/pip install \\
    --no-index --find-links {q(staging)} --disable-pip-version-check --no-cache-dir \\
    --force-reinstall --quiet {q(f"{staging}/{bundle.xunjian_wheel.name}")}
{VENV}/bin/xunjian --version
printf '%s\\n' {q(bundle.stamp)} > {STAMP}.new
mv {STAMP}.new {STAMP}
"""
    _check(connection.run(script, root=True, timeout=900), INSTALL, f"{verb} the agent")
    if probe.stamp == bundle.stamp:
        outcome.changes.append(f"reinstalled {bundle.stamp} (the installed venv did not run)")
    elif probe.stamp:
        outcome.changes.append(f"upgraded {probe.stamp} -> {bundle.stamp}")
    else:
        outcome.changes.append(f"installed {bundle.stamp}")


def _same_server(left: object, right: str) -> bool:
    return isinstance(left, str) and left.rstrip("/") == right.rstrip("/")


def _enroll(connection: Connection, probe: Probe, context: Context, outcome: HostOutcome) -> str:
    host, server = connection.host, context.server
    if probe.agent_damaged:
        raise DeployFailure(
            ENROLL,
            f"{STATE_DIR}/agent.json on the host is damaged; run with --uninstall for this "
            "host, then deploy again",
        )
    if probe.agent is not None:
        agent_id, url = probe.agent.get("agent_id"), probe.agent.get("server_url")
        if not _same_server(url, server.server_url):
            raise DeployFailure(
                ENROLL,
                f"the host is enrolled with another server ({url!r:.100}); refusing to replace "
                "that identity. Uninstall it there first (or --uninstall, then deploy again).",
            )
        state = server.agent_state(str(agent_id))
        if state == "active":
            group = probe.agent.get("group")
            if isinstance(group, str) and group != host.group:
                outcome.notes.append(
                    f"the agent is in group {group!r}, the inventory says {host.group!r}: "
                    "the group is chosen at enrollment (to change it: --uninstall, then deploy)"
                )
            return str(agent_id)
        raise DeployFailure(
            ENROLL,
            f"the host is enrolled as {agent_id!r:.60}, which this server has "
            f"{'revoked' if state == 'revoked' else 'never seen'}; run with --uninstall for "
            "this host, then deploy again to enroll it anew",
        )
    context.progress(host, f"enrolling (group {host.group})")
    token = server.create_token(host.group)
    q = shlex.quote
    done = connection.run(
        f"{HOST_HELPER} enroll --state {STATE_DIR} --server {q(server.server_url)} "
        f"--ca-sha256 {server.ca_sha256}",
        root=True,
        stdin=token.encode() + b"\n",
        timeout=120,
    )
    _check(done, ENROLL, "enrolling")
    try:
        agent_id = str(json.loads(done.stdout.strip().splitlines()[-1])["agent_id"])
    except (ValueError, KeyError, IndexError, TypeError):
        raise DeployFailure(ENROLL, f"enroll printed no agent id: {done.tail(3)}") from None
    outcome.changes.append(f"enrolled as {agent_id} (group {host.group})")
    return agent_id


def _configure(connection: Connection, outcome: HostOutcome) -> None:
    settings = json.dumps(dict(connection.host.agent)).encode()
    done = connection.run(
        f"{HOST_HELPER} configure --state {STATE_DIR}", root=True, stdin=settings, timeout=60
    )
    _check(done, INSTALL, "writing the agent's settings")
    if done.stdout.strip().endswith("changed") and not done.stdout.strip().endswith("unchanged"):
        outcome.changes.append("agent settings written")


def _write_service_files(connection: Connection, staging: str, outcome: HostOutcome) -> bool:
    """Unit and fallback starter; True when the unit changed. Then verify the unit."""
    connection.put_text(unit_text(), f"{staging}/unit")
    connection.put_text(fallback_script(), f"{staging}/fallback")
    q = shlex.quote
    script = f"""
set -eu
if ! cmp -s {q(staging)}/unit {UNIT_PATH}; then
    install -D -m 0644 {q(staging)}/unit {UNIT_PATH}
    echo changed=unit
fi
if ! cmp -s {q(staging)}/fallback {FALLBACK}; then
    install -D -m 0755 {q(staging)}/fallback {FALLBACK}
    echo changed=fallback
fi
"""
    done = connection.run(script, root=True, timeout=60)
    _check(done, INSTALL, "writing the unit")
    unit_changed = "changed=unit" in done.stdout
    if unit_changed:
        outcome.changes.append(f"unit written: {UNIT_PATH}")
    if "changed=fallback" in done.stdout:
        outcome.changes.append(f"fallback starter written: {FALLBACK}")
    verify = connection.run(
        f"command -v systemd-analyze >/dev/null 2>&1 || exit 99\n"
        f"systemd-analyze verify {UNIT_PATH}",
        root=True,
        timeout=120,
    )
    if verify.status == 99:
        outcome.notes.append("unit not verified: systemd-analyze is not installed on the host")
    elif verify.status != 0:
        raise DeployFailure(INSTALL, f"systemd-analyze verify {UNIT_PATH} failed:\n{verify.tail()}")
    else:
        outcome.unit_verified = True
    return unit_changed


def _start(connection: Connection, probe: Probe, unit_changed: bool, outcome: HostOutcome) -> None:
    restart = bool(outcome.changes)
    if probe.systemd:
        outcome.started_by = "systemd"
        script = f"""
set -eu
{"systemctl daemon-reload" if unit_changed else ":"}
if ! systemctl is-enabled --quiet {UNIT_NAME}; then
    systemctl enable --quiet {UNIT_NAME}; echo enabled
fi
if [ {"1" if restart else "0"} = 1 ]; then
    systemctl restart {UNIT_NAME}; echo restarted
elif ! systemctl is-active --quiet {UNIT_NAME}; then
    systemctl start {UNIT_NAME}; echo started
fi
sleep 2
systemctl is-active --quiet {UNIT_NAME} || {{
    journalctl -u {UNIT_NAME} -n 20 --no-pager >&2 || true; exit 1; }}
"""
        done = connection.run(script, root=True, timeout=180)
        _check(done, START, f"starting {UNIT_NAME}")
        for word in ("enabled", "restarted", "started"):
            if word in done.stdout.split():
                outcome.changes.append(f"agent {word} (systemd)")
        return
    outcome.started_by = "fallback"
    checked = (
        "written and verified (systemd-analyze verify)" if outcome.unit_verified else "written"
    )
    outcome.notes.append(
        f"no running systemd: the unit is {checked}; the agent runs under {FALLBACK} "
        f"(log {FALLBACK_LOG}); docs/deploy.md 'Hosts without systemd'"
    )
    done = connection.run(f"{FALLBACK} {'restart' if restart else 'start'}", root=True, timeout=120)
    _check(done, START, f"{FALLBACK} start")
    words = done.stdout.split()
    if "started" in words:
        verb = "restarted" if "stopped" in words else "started"
        outcome.changes.append(f"agent {verb} (fallback)")


def _agent_log(connection: Connection, probe: Probe) -> str:
    command = f"tail -n 15 {FALLBACK_LOG}"
    if probe.systemd:
        command = f"journalctl -u {UNIT_NAME} -n 15 --no-pager"
    done = connection.run(command, root=True, timeout=60)
    return done.tail(15)


def _wait_for_report(
    connection: Connection, probe: Probe, context: Context, agent_id: str, outcome: HostOutcome
) -> None:
    if context.report_timeout <= 0:
        outcome.report = "not waited"
        return
    if context.server.has_report(agent_id):
        outcome.report = "stored"
        return
    context.progress(
        connection.host, f"waiting for the first report (up to {context.report_timeout:.0f}s)"
    )
    deadline = time.monotonic() + context.report_timeout
    while time.monotonic() < deadline:
        time.sleep(REPORT_POLL_SECONDS)
        if context.server.has_report(agent_id):
            outcome.report = "stored"
            return
    raise DeployFailure(
        NO_REPORT,
        f"the agent runs, but no report arrived within {context.report_timeout:.0f}s. "
        f"Its log says:\n{_agent_log(connection, probe)}",
    )


def deploy_host(host: HostEntry, context: Context) -> HostOutcome:
    outcome = HostOutcome(host)
    connection: Connection | None = None
    try:
        connection = _connect(host, context, outcome)
        context.progress(host, "checking the host")
        probe = _probe(connection)
        staging = _staging(connection)
        try:
            _install(connection, probe, context, staging, outcome)
            outcome.agent_id = _enroll(connection, probe, context, outcome)
            _configure(connection, outcome)
            unit_changed = _write_service_files(connection, staging, outcome)
            _start(connection, probe, unit_changed, outcome)
        finally:
            with contextlib.suppress(DeployFailure):  # keep the first failure's reason
                connection.run(f"rm -rf {shlex.quote(staging)}", timeout=60)
        _wait_for_report(connection, probe, context, outcome.agent_id, outcome)
        outcome.ok = True
    except DeployFailure as exc:
        outcome.reason, outcome.message = exc.reason, exc.message
    except Exception as exc:  # one host's surprise must not end the others' deployment
        outcome.reason, outcome.message = INSTALL, f"unexpected {type(exc).__name__}: {exc}"
    finally:
        if connection is not None:
            connection.close()
    context.progress(host, _last_word(outcome))
    return outcome


UNINSTALL_SCRIPT = f"""
set -u
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    if systemctl is-active --quiet {UNIT_NAME} ||
        systemctl is-enabled --quiet {UNIT_NAME} 2>/dev/null; then
        systemctl disable --now --quiet {UNIT_NAME} && echo "stopped=systemd"
    fi
fi
if [ -x {FALLBACK} ] && {FALLBACK} status >/dev/null 2>&1; then
    {FALLBACK} stop >/dev/null && echo "stopped=fallback"
fi
for path in {" ".join(INSTALLED_PATHS)}; do
    if [ -e "$path" ]; then rm -rf "$path" && echo "removed=$path"; fi
done
rmdir {STATE_PARENT} 2>/dev/null || true
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl daemon-reload || true
fi
for path in {" ".join(INSTALLED_PATHS)}; do
    if [ -e "$path" ]; then echo "left=$path"; fi
done
"""


def uninstall_host(host: HostEntry, context: Context) -> HostOutcome:
    outcome = HostOutcome(host, action="uninstall")
    connection: Connection | None = None
    try:
        connection = _connect(host, context, outcome)
        probe = _probe(connection)
        if probe.agent is not None:
            outcome.agent_id = str(probe.agent.get("agent_id"))
        context.progress(host, "stopping the agent and removing its files")
        done = connection.run(UNINSTALL_SCRIPT, root=True, timeout=300)
        lines = done.stdout.splitlines()
        for line in lines:
            key, _, value = line.partition("=")
            if key == "stopped":
                outcome.changes.append(f"agent stopped ({value})")
            elif key == "removed":
                outcome.changes.append(f"removed {value}")
        left = [line.partition("=")[2] for line in lines if line.startswith("left=")]
        if done.status != 0 or left:
            raise DeployFailure(
                UNINSTALL, f"could not remove {', '.join(left) or 'everything'}:\n{done.tail()}"
            )
        enrolled_here = probe.agent is not None and _same_server(
            probe.agent.get("server_url"), context.server.server_url
        )
        if outcome.agent_id and enrolled_here and context.server.revoke(outcome.agent_id):
            outcome.changes.append(f"agent {outcome.agent_id} revoked on the server")
        outcome.ok = True
    except DeployFailure as exc:
        outcome.reason, outcome.message = exc.reason, exc.message
    except Exception as exc:  # one host's surprise must not end the others' uninstall
        outcome.reason, outcome.message = UNINSTALL, f"unexpected {type(exc).__name__}: {exc}"
    finally:
        if connection is not None:
            connection.close()
    context.progress(host, _last_word(outcome))
    return outcome


def _last_word(outcome: HostOutcome) -> str:
    if not outcome.ok:
        return f"FAILED ({outcome.reason})"
    if not outcome.changes:
        return "up to date, nothing changed" if outcome.action == "deploy" else "nothing installed"
    return "done: " + "; ".join(outcome.changes)
