"""``xunjian demo``: the README's first command. A server on the embedded SQLite default plus one
local agent enrolled to it, console on loopback.

Everything goes through the public command line (``xunjian server ...``, ``xunjian agent ...``)
in child processes, exactly as an admin would type it, so the demo exercises the real interface.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

from agent.state import write_json
from xunjian.core.paths import default_server_data

XUNJIAN = [sys.executable, "-m", "xunjian.cli"]


class DemoError(Exception):
    """A step of the demo failed; the message says which and why."""


def add_arguments(demo: argparse.ArgumentParser) -> None:
    """The options of ``xunjian demo``."""
    demo.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"server data folder (default: $XUNJIAN_DATA or {default_server_data()})",
    )
    demo.add_argument("--listen", default="127.0.0.1:8443")
    demo.set_defaults(handler=demo_command)


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise DemoError(f"--listen wants HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def parse_enroll_line(output: str) -> list[str]:
    """Arguments of the ``xunjian agent enroll ...`` line printed by ``server token create``."""
    for line in output.splitlines():
        words = shlex.split(line.strip())
        if words[:3] == ["xunjian", "agent", "enroll"]:
            return words[3:]
    raise DemoError(f"no 'xunjian agent enroll' line in:\n{output}")


def wait_for_server(host: str, port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Until the server completes a TLS handshake (a bare TCP probe would make it log a broken
    handshake). Unverified: this only asks whether it is up; the agent pins the CA itself."""
    context = ssl._create_unverified_context()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoError(f"the server exited with status {process.returncode}")
        try:
            with (
                socket.create_connection((host, port), timeout=2) as raw,
                context.wrap_socket(raw, server_hostname=host),
            ):
                return
        except OSError:
            time.sleep(0.2)
    raise DemoError(f"the server did not listen on {host}:{port} within {timeout:.0f}s")


def _run(words: list[str]) -> str:
    done = subprocess.run([*XUNJIAN, *words], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DemoError(f"xunjian {' '.join(words)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def demo_command(args: argparse.Namespace) -> int:
    root: Path = args.data
    server_dir, agent_dir = root / "server", root / "agent"
    try:
        host, port = parse_listen(args.listen)
    except DemoError as exc:
        print(f"xunjian demo: {exc}", file=sys.stderr)
        return 2
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    server: subprocess.Popen[bytes] | None = None
    agent: subprocess.Popen[bytes] | None = None
    # SIGTERM stops the demo like Ctrl-C does, so both children are always stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if not (server_dir / "config.json").exists():
            url_host = f"[{host}]" if ":" in host else host
            print(
                _run(
                    [
                        "server",
                        "init",
                        "--data",
                        str(server_dir),
                        "--server-url",
                        f"https://{url_host}:{port}",
                    ]
                ),
                end="",
            )
        server = subprocess.Popen(
            [*XUNJIAN, "server", "run", "--data", str(server_dir), "--listen", args.listen]
        )
        wait_for_server(host, port, server, timeout=60)
        if not (agent_dir / "agent.json").exists():
            token_output = _run(
                [
                    "server",
                    "token",
                    "create",
                    "--data",
                    str(server_dir),
                    "--uses",
                    "1",
                    "--expires",
                    "1h",
                ]
            )
            _run(["agent", "enroll", "--state", str(agent_dir), *parse_enroll_line(token_output)])
            # A PC waits up to a minute before its first scan so a room switched on together
            # does not arrive at once; the demo's single agent should show results at once.
            config_path = agent_dir / "agent.json"
            config = json.loads(config_path.read_text())
            config["start_delay_max_seconds"] = 0
            write_json(config_path, config)  # atomic, and stays 0600
        agent = subprocess.Popen([*XUNJIAN, "agent", "run", "--state", str(agent_dir)])
        password_file = server_dir / "initial-admin-password"
        print(
            f"\nxunjian is running.\n"
            f"  console:  https://{host}:{port}/  (the certificate is issued by xunjian's own CA:\n"
            f"            {server_dir / 'ca' / 'ca.pem'}; your browser will ask you to trust it)\n"
            f"  log in:   admin, password in {password_file} (until you change it at first login)\n"
            f"  agent:    {agent_dir}  (xunjian agent status --state {agent_dir})\n"
            f"  commands: xunjian server ... --data {server_dir}  (or without --data: the server\n"
            f"            commands now use this folder)\n"
            f"Press Ctrl-C to stop.",
            flush=True,
        )
        while server.poll() is None and agent.poll() is None:
            time.sleep(0.5)
        print("xunjian demo: a child process exited; stopping", file=sys.stderr)
        return 1
    except DemoError as exc:
        print(f"xunjian demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(agent)
        _stop(server)
