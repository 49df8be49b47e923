"""Real processes for integration tests and benchmarks: a server on a loopback port and agents,
driven through the public command line and the documented wire contract only.

Nothing here is a stand-in: the server is ``xunjian server run`` serving HTTPS with the CA it
made at ``server init``; agents are ``xunjian agent run`` processes.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from xunjian.core.contract import PATH_ENROLL
from xunjian.core.wire import certificate_sha256, sign_request
from xunjian.demo import parse_enroll_line

XUNJIAN = [sys.executable, "-m", "xunjian.cli"]


class Process(Protocol):
    """A started command: a ``subprocess.Popen`` or a child of the zygote (tests/zygote.py)."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...


def start_command(words: list[str], log_path: Path) -> Process:
    """``xunjian WORDS`` as a process of its own, stdout and stderr appended to ``log_path``.

    Forked from the test zygote (tests/zygote.py: the same command's main() without a new
    interpreter's 2 s of imports); ``XUNJIAN_TESTS_NO_ZYGOTE=1`` starts a new interpreter
    instead, to rule the zygote out when a test misbehaves.
    """
    if os.environ.get("XUNJIAN_TESTS_NO_ZYGOTE") == "1":
        with log_path.open("ab") as log:
            return subprocess.Popen([*XUNJIAN, *words], stdout=log, stderr=subprocess.STDOUT)
    from tests.zygote import zygote

    return zygote().spawn(words, log_path)


def stop_process(process: Process | None, kill: bool = False) -> None:
    """SIGTERM (or SIGKILL) and wait; SIGKILL after 20 s if SIGTERM was not enough."""
    if process is None or process.poll() is not None:
        return
    if not kill:
        process.terminate()
        try:
            process.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            pass
    process.kill()
    process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# `xunjian server run` is a server and `server init` is tested as the command it is: each keeps
# a process of its own. The other one-shot server commands (user add, agent revoke, device add,
# report weekly...) run by the command's own main() in the test's process: the same code as the
# installed command, without a new interpreter that imports the whole server first (2.0-2.8 s of
# CPU each, measured with a per-process CPU probe over a whole run; about 0.1 s in process).
# The agent's and the deployment commands keep their processes (signals, umask, logging).
OWN_PROCESS_SERVER_COMMANDS = frozenset({"run", "init"})


def _in_process(words: tuple[str, ...]) -> bool:
    return len(words) >= 2 and words[0] == "server" and words[1] not in OWN_PROCESS_SERVER_COMMANDS


def run_cli(
    *words: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``xunjian WORDS`` and what it printed; fails the test on a non-zero exit with ``check``."""
    if _in_process(words):
        from tests.data_folder import run_xunjian

        status, out, err = run_xunjian(*words)
        done = subprocess.CompletedProcess([*XUNJIAN, *words], status, out, err)
    else:
        done = subprocess.run(
            [*XUNJIAN, *words], capture_output=True, text=True, check=False, timeout=timeout
        )
    if check and done.returncode != 0:
        raise AssertionError(
            f"xunjian {' '.join(words)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


def run_cli_here(*words: str) -> str:
    """``xunjian WORDS`` by the command's own ``main()`` in this process; its output.

    For the set-up steps of a test (tokens), not for the command under test: a new interpreter
    importing the server costs 1.2-1.9 s of CPU each time (measured with ``-X importtime``), and
    integration tests make a token or two per test.
    """
    from tests.data_folder import run_xunjian

    status, out, err = run_xunjian(*words)
    if status != 0:
        raise AssertionError(f"xunjian {' '.join(words)} exited {status}:\n{out}\n{err}")
    return out


def option_value(words: list[str], option: str) -> str:
    return words[words.index(option) + 1]


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ServerUnderTest:
    """``xunjian server init`` + ``xunjian server run`` on 127.0.0.1 and a free port."""

    data: Path
    database_url: str | None = None
    port: int = field(default_factory=free_port)
    process: Process | None = None
    log_path: Path | None = None
    ca_pem: bytes = b""
    init_output: str = ""
    # Where the server's output goes (default: beside the data folder). Apart from it when the
    # data folder's disk is made to fill up: a real server logs to the journal, not its data.
    log_dir: Path | None = None

    @property
    def url(self) -> str:
        """The URL agents are given (the config's server_url)."""
        return self.local_url

    @property
    def local_url(self) -> str:
        """Where it listens: the tests' own requests and the browser go here."""
        return f"https://127.0.0.1:{self.port}"

    def set_config(self, **values: Any) -> None:
        """Change settings in config.json (e.g. short intervals for a test); before start()."""
        path = self.data / "config.json"
        config = json.loads(path.read_text())
        config.update(values)
        path.write_text(json.dumps(config, indent=2))

    def init(self) -> str:
        words = ["server", "init", "--data", str(self.data), "--server-url", self.url]
        if self.database_url:
            words += ["--database-url", self.database_url]
        self.init_output = run_cli(*words).stdout
        return self.init_output

    def init_copy(self, templates: Any) -> str:
        """What ``init()`` makes, copied from the session's template instead (``templates`` is
        the ``data_folder_templates`` fixture, tests/data_folder.py): 1.5 s less per server."""
        if self.database_url is None:
            raise AssertionError("a copied data folder needs the test's database_url")
        output, _password = templates.copy(self.data, self.database_url)
        template_url = json.loads((self.data / "config.json").read_text())["server_url"]
        self.set_config(server_url=self.url)
        self.init_output = output.replace(template_url, self.url)
        return self.init_output

    def start(self, timeout: float = 60) -> None:
        self.log_path = (self.log_dir or self.data.parent) / f"server-{self.port}.log"
        self.process = start_command(
            ["server", "run", "--data", str(self.data), "--listen", f"127.0.0.1:{self.port}"],
            self.log_path,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited {self.process.returncode}:\n{self.log()}")
            try:
                self.ca_pem = self._fetch_ca()
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"server did not answer within {timeout}s:\n{self.log()}")

    def _fetch_ca(self) -> bytes:
        # Unverified on purpose, exactly like an enrolling agent; callers pin it by hash. Not
        # ssl._create_unverified_context(): it loads the system's CA bundle at every call (tens
        # of ms of CPU), and this is called every 0.2 s while a server starts.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        ca_url = f"{self.local_url}/api/v1/agent/ca"
        with urllib.request.urlopen(ca_url, context=context, timeout=5) as r:
            return r.read()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self) -> None:
        stop_process(self.process)

    def kill(self) -> None:
        stop_process(self.process, kill=True)

    # -- the command line ------------------------------------------------------------------
    def create_token(self, uses: int = 1, expires: str = "1h", group: str = "default") -> list[str]:
        out = run_cli_here(
            "server",
            "token",
            "create",
            "--data",
            str(self.data),
            "--uses",
            str(uses),
            "--expires",
            expires,
            "--group",
            group,
        )
        return parse_enroll_line(out)

    def api_token(self, user: str = "admin") -> str:
        out = run_cli_here("server", "apitoken", "create", "--data", str(self.data), "--user", user)
        return parse_printed_secret(out)

    # -- HTTP ------------------------------------------------------------------------------
    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        return context

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.port, context=self.ssl_context(), timeout=30
        )
        try:
            connection.request(method, path, body=body, headers=headers or {})
            answer = connection.getresponse()
            return Response(answer.status, answer.read(), dict(answer.getheaders()))
        finally:
            connection.close()

    def api(self, token: str, method: str, path: str, payload: Any = None) -> Response:
        body = None if payload is None else json.dumps(payload).encode()
        headers = {"Authorization": f"Bearer {token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return self.request(method, path, body, headers)


def parse_printed_secret(output: str) -> str:
    """The one-time secret a command printed: the last line's last word (see server/cli.py)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        raise AssertionError("the command printed nothing")
    return lines[-1].split()[-1]


@dataclass
class SimulatedAgent:
    """An enrolled identity that signs for real, for refusal tests and the intake benchmark."""

    agent_id: str
    key: Any

    def signed(
        self, method: str, path: str, body: bytes, sent_at: int | None = None
    ) -> dict[str, str]:
        headers = sign_request(self.key, method, path, self.agent_id, body, sent_at).as_dict()
        headers["Content-Type"] = "application/json"
        return headers


def enroll_simulated(server: ServerUnderTest, token: str, hostname: str) -> SimulatedAgent:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from xunjian.core.wire import public_key_to_text

    key = Ed25519PrivateKey.generate()
    payload = {
        "token": token,
        "public_key": public_key_to_text(key.public_key()),
        "hostname": hostname,
        "platform": "linux",
        "os": "Debian GNU/Linux 12",
        "agent_version": "0.1.0",
    }
    answer = server.request(
        "POST", PATH_ENROLL, json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    if answer.status != 201:
        raise AssertionError(f"enroll refused: {answer.status} {answer.body!r}")
    return SimulatedAgent(answer.json()["agent_id"], key)


def check_ca_pin(server: ServerUnderTest, enroll_words: list[str]) -> None:
    assert certificate_sha256(server.ca_pem) == option_value(enroll_words, "--ca-sha256").lower()


def sample_results(count: int = 40) -> list[dict[str, Any]]:
    """Results shaped like a real scan's, for simulated reports."""
    statuses = ["pass", "pass", "pass", "fail", "not_applicable"]
    return [
        {
            "check_id": f"bench.check_{index:02d}",
            "status": statuses[index % len(statuses)],
            "resource": "host" if index % 3 else f"user:user{index}",
            "message": f"simulated result {index} of a scan",
            "evidence": {"value": index, "detail": "x" * 40},
            "rules": ["E8"],
            "severity": "medium",
        }
        for index in range(count)
    ]


# Local tuning that makes `xunjian agent run` act at once and often (keys of agent.json).
FAST_AGENT = {
    "start_delay_max_seconds": 0,
    "scan_interval_seconds": 4,
    "heartbeat_interval_seconds": 1,
    "job_jitter_seconds": 0.2,
    "flush_interval_seconds": 0.5,
    "backoff_base_seconds": 0.2,
    "backoff_cap_seconds": 1,
    "request_timeout_seconds": 10,
}


@dataclass
class AgentUnderTest:
    """``xunjian agent enroll`` + ``xunjian agent run`` with a state folder of its own."""

    state: Path
    process: Process | None = None
    log_path: Path | None = None

    def enroll(
        self, enroll_words: list[str], check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return run_cli("agent", "enroll", "--state", str(self.state), *enroll_words, check=check)

    def tune(self, **values: Any) -> None:
        path = self.state / "agent.json"
        config = json.loads(path.read_text())
        config.update(FAST_AGENT)
        config.update(values)
        path.write_text(json.dumps(config, indent=2))

    @property
    def agent_id(self) -> str:
        return str(json.loads((self.state / "agent.json").read_text())["agent_id"])

    def start(self) -> None:
        self.log_path = self.state.parent / f"{self.state.name}.log"
        self.process = start_command(["agent", "run", "--state", str(self.state)], self.log_path)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def status(self) -> dict[str, Any]:
        done = run_cli("agent", "status", "--state", str(self.state), "--json", check=False)
        return dict(json.loads(done.stdout))

    def stop(self) -> None:
        stop_process(self.process)

    def kill(self) -> None:
        stop_process(self.process, kill=True)


def wait_for(what: str, condition: Any, timeout: float = 60, interval: float = 0.3) -> Any:
    """Poll ``condition()`` until it returns something truthy; fail with ``what`` otherwise.

    Deadlines here bound a wait for an event; they never judge speed.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
