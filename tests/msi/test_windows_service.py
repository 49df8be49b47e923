"""The Windows service's logic on Linux (agent/windows/, docs/windows-deploy.md): the state
folder's ACL rule, first-start enrollment from the installer's properties against a real
HTTPS server on loopback, the stop paths, and the pywin32 class driven through stand-ins for
pywin32's modules (the one thing that cannot exist here)."""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from agent.scanning import ScanOutcome
from agent.service import build_service
from agent.state import AgentState
from agent.windows import __main__ as setup
from agent.windows import logs, names, staged
from agent.windows.acl import (
    ADMINISTRATORS_SID,
    FILE_ALL_ACCESS,
    SYSTEM_SID,
    Ace,
    AclError,
    FolderAcl,
    protect_state_folder,
)
from agent.windows.body import ServiceBody
from tests.agent.agent_testkit import LoopbackServer, ScriptedApi, ThrowawayCA, act_at_once
from tests.harness import wait_for
from xunjian.core.wire import certificate_sha256

RESULT = {"check_id": "accounts.uid0_extra", "status": "pass", "severity": "high",
          "title": "ok", "message": "ok", "evidence": {}}  # fmt: skip


class FakeSecurity:
    """SetNamedSecurityInfo/GetNamedSecurityInfo as a dict; ``inherit`` plays a Windows that
    ignored the protection bit, ``fail`` one that refused."""

    def __init__(self, inherit: bool = False, fail: bool = False, enforced: bool = True) -> None:
        self.acls: dict[Path, FolderAcl] = {}
        self.enforced = enforced
        self.inherit = inherit
        self.fail = fail

    def set_protected_acl(self, path: Path, owner: str, aces: Sequence[Ace]) -> None:
        if self.fail:
            raise OSError("access denied")
        extra = (Ace("S-1-5-32-545", 0x1200A9, 0x3),) if self.inherit else ()
        self.acls[path] = FolderAcl(owner, not self.inherit, tuple(aces) + extra)

    def read_acl(self, path: Path) -> FolderAcl:
        return self.acls[path]


class FakeServiceConfig:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def set_binary_path(self, service: str, command_line: str) -> None:
        self.calls.append(("path", service, command_line))

    def set_delayed_auto_start(self, service: str) -> None:
        self.calls.append(("delayed", service))

    def set_restart_actions(self, service: str, delays_ms: Sequence[int], reset: int) -> None:
        self.calls.append(("restart", service, tuple(delays_ms), reset))


def scan(_policy: Mapping[str, Mapping[str, Any]] | None) -> ScanOutcome:
    return [dict(RESULT)], {}


def build_at_once(state: AgentState, scanner: Any = None) -> Any:
    """build_service with the documented test tuning: jobs act at once, not after a random
    start delay."""
    act_at_once(state)
    return build_service(state, scanner=scanner or scan)


def _run_in_thread(body: ServiceBody) -> tuple[threading.Thread, list[int]]:
    status: list[int] = []
    thread = threading.Thread(target=lambda: status.append(body.run()), daemon=True)
    thread.start()
    return thread, status


def _wait(condition: Any) -> None:
    # Polled often: the stop tests stop the service while the event they waited for lasts.
    wait_for("the service", condition, timeout=20, interval=0.05)


# -- the state folder's ACL -------------------------------------------------------------------
def test_the_state_folder_gets_system_and_administrators_only_without_inheritance(
    tmp_path: Path,
) -> None:
    security = FakeSecurity()
    folder = tmp_path / "ProgramData" / "xunjian" / "agent"
    protect_state_folder(folder, security)
    assert folder.is_dir()
    acl = security.acls[folder]
    assert acl.protected and acl.owner == ADMINISTRATORS_SID
    assert {ace.sid for ace in acl.aces} == {SYSTEM_SID, ADMINISTRATORS_SID}
    # Full control, inherited by files (OI 0x1) and folders (CI 0x2): the key and the spool.
    assert all(ace.mask == FILE_ALL_ACCESS and ace.flags == 0x3 for ace in acl.aces)


@pytest.mark.parametrize("security", [FakeSecurity(inherit=True), FakeSecurity(fail=True)])
def test_an_acl_that_does_not_hold_stops_the_service_before_any_secret_is_written(
    tmp_path: Path, security: FakeSecurity
) -> None:
    with pytest.raises(AclError):
        protect_state_folder(tmp_path / "agent", security)
    staged.stage(tmp_path / "agent", "https://127.0.0.1:1", "tok", "ab" * 32)
    body = ServiceBody(tmp_path / "agent", security, enroll=_must_not_enroll)
    assert body.run() == 1


def test_under_wine_an_acl_that_does_not_hold_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    protect_state_folder(tmp_path / "agent", FakeSecurity(inherit=True, enforced=False))
    assert "wine keeps no file ACLs" in caplog.text


def _must_not_enroll(*_args: object) -> None:
    raise AssertionError("enrolled although the folder is not protected")


# -- first start: enrollment from the installer's properties ----------------------------------
def test_first_start_enrolls_from_the_installers_properties_then_forgets_the_token(
    server: LoopbackServer, api: ScriptedApi, ca: ThrowawayCA, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    state_dir = tmp_path / "agent"
    security, services = FakeSecurity(), FakeServiceConfig()
    python = r"C:\Program Files\xunjian\agent\python\python.exe"
    line = setup.install(
        state_dir, server.url, api.token, certificate_sha256(ca.cert_pem), security, services,
        python=python,
    )  # fmt: skip
    assert "staged" in line and api.token not in line
    assert staged.staged_path(state_dir).exists()
    assert services.calls == [
        # Quoted: a path with spaces unquoted is the "unquoted service path" hole.
        ("path", "xunjian-agent", f'"{python}" -B -m agent.windows'),
        ("delayed", "xunjian-agent"),
        ("restart", "xunjian-agent", (60_000, 60_000, 300_000), 86_400),
    ]

    body = ServiceBody(state_dir, security, build=build_at_once)
    thread, status = _run_in_thread(body)
    _wait(lambda: body.running.is_set() and api.reports)
    body.stop()
    thread.join(10)
    assert status == [0]
    assert AgentState(state_dir).load_config().agent_id == api.agent_id
    assert not staged.staged_path(state_dir).exists()
    # The token is nowhere: not in the state folder, not in a log line.
    for path in state_dir.rglob("*"):
        if path.is_file():
            assert api.token.encode() not in path.read_bytes(), path
    assert api.token not in caplog.text


def test_an_upgrade_with_the_properties_again_keeps_the_identity(
    server: LoopbackServer, api: ScriptedApi, ca: ThrowawayCA, tmp_path: Path
) -> None:
    state_dir = tmp_path / "agent"
    pin = certificate_sha256(ca.cert_pem)
    setup.install(state_dir, server.url, api.token, pin, FakeSecurity(), FakeServiceConfig())
    assert staged.enroll_from_staged(state_dir, _enroll)
    identity = AgentState(state_dir).key_path.read_bytes()
    line = setup.install(state_dir, server.url, "another", pin, FakeSecurity(), FakeServiceConfig())
    assert "already enrolled" in line
    assert not staged.staged_path(state_dir).exists()
    assert staged.enroll_from_staged(state_dir, _must_not_enroll)
    assert AgentState(state_dir).key_path.read_bytes() == identity
    # An upgrade without properties says so and changes nothing.
    assert "no enrollment properties" in setup.install(
        state_dir, "", "", "", FakeSecurity(), FakeServiceConfig()
    )


def _enroll(state_dir: Path, url: str, token: str, pin: str) -> object:
    from agent.enroll import enroll

    return enroll(state_dir, url, token, pin)


def test_a_service_manager_without_delayed_start_keeps_auto_start_and_the_restarts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from agent.windows.scm import ERROR_INVALID_LEVEL, ServiceConfigError, configure_service

    class Wine(FakeServiceConfig):
        def set_delayed_auto_start(self, service: str) -> None:
            raise ServiceConfigError(ERROR_INVALID_LEVEL, "ChangeServiceConfig2: Invalid level.")

    services = Wine()
    configure_service(services, "python.exe")
    assert services.calls[1:] == [("restart", "xunjian-agent", (60_000, 60_000, 300_000), 86_400)]
    assert "no delayed auto-start" in caplog.text

    class Denied(FakeServiceConfig):
        def set_delayed_auto_start(self, service: str) -> None:
            raise ServiceConfigError(5, "OpenService: Access is denied.")

    with pytest.raises(ServiceConfigError):
        configure_service(Denied(), "python.exe")


def test_half_the_properties_fail_the_install(tmp_path: Path) -> None:
    from agent.state import StateError

    with pytest.raises(StateError, match="token"):
        setup.install(tmp_path / "a", "https://h:1", "", "ab" * 32, FakeSecurity(),
                      FakeServiceConfig())  # fmt: skip


def test_an_unreachable_server_at_boot_keeps_the_token_and_a_stop_ends_the_wait(
    api: ScriptedApi, ca: ThrowawayCA, tmp_path: Path
) -> None:
    state_dir = tmp_path / "agent"
    staged.stage(state_dir, "https://127.0.0.1:9", api.token, certificate_sha256(ca.cert_pem))
    attempts: list[str] = []

    def unreachable(*args: object) -> None:
        attempts.append("x")
        raise OSError("connection refused")

    body = ServiceBody(state_dir, FakeSecurity(), enroll=unreachable, retry_seconds=3600)
    thread, status = _run_in_thread(body)
    _wait(lambda: attempts)
    started = time.monotonic()
    body.stop()
    thread.join(5)
    assert status == [0] and time.monotonic() - started < 2
    assert staged.staged_path(state_dir).exists()


# -- the stop paths ---------------------------------------------------------------------------
def test_a_stop_during_a_report_closes_the_spool_with_the_report_whole(
    server: LoopbackServer, api: ScriptedApi, ca: ThrowawayCA, tmp_path: Path
) -> None:
    state_dir = tmp_path / "agent"
    _enroll(state_dir, server.url, api.token, certificate_sha256(ca.cert_pem))
    api.report_status = 503  # reports stay in the spool
    scanning = threading.Event()

    def slow_scan(policy: Mapping[str, Mapping[str, Any]] | None) -> ScanOutcome:
        scanning.set()
        time.sleep(0.5)
        return scan(policy)

    built: list[Any] = []

    def build(state: AgentState) -> Any:
        built.append(build_at_once(state, slow_scan))
        return built[0]

    body = ServiceBody(state_dir, FakeSecurity(), build=build)
    thread, status = _run_in_thread(body)
    _wait(scanning.is_set)
    started = time.monotonic()
    body.stop()
    thread.join(names.STOP_WAIT_HINT_MS / 1000)
    assert not thread.is_alive() and status == [0]
    assert time.monotonic() - started < 5, "well inside the SCM's wait hint"
    # The spool is closed, and what it holds is whole.
    with pytest.raises(sqlite3.ProgrammingError):
        built[0].spool.depth()
    time.sleep(0.7)  # let the abandoned scan thread finish its attempt on the closed spool
    with sqlite3.connect(AgentState(state_dir).spool_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        for (body_bytes,) in db.execute("SELECT body FROM reports"):
            assert b'"results"' in bytes(body_bytes)


# -- the pywin32 class, through stand-ins for its modules -------------------------------------
@pytest.fixture
def pywin32(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Stand-ins for win32serviceutil, win32service and servicemanager with the calls the
    class makes; ``events`` records them in order."""
    events: list[tuple[Any, ...]] = []

    class ServiceFramework:
        def __init__(self, args: Any) -> None:
            events.append(("init", args))

        def GetAcceptedControls(self) -> int:
            return 1  # SERVICE_ACCEPT_STOP

        def ReportServiceStatus(self, status: int, waitHint: int = 0) -> None:
            events.append(("status", status, waitHint))

    modules = {
        "win32serviceutil": types.SimpleNamespace(ServiceFramework=ServiceFramework),
        "win32service": types.SimpleNamespace(SERVICE_STOP_PENDING=3, SERVICE_ACCEPT_SHUTDOWN=4),
        "servicemanager": types.SimpleNamespace(
            LogInfoMsg=lambda m: events.append(("info", m)),
            LogErrorMsg=lambda m: events.append(("error", m)),
        ),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield {"events": events}
    for handler in root.handlers:
        handler.close()
    root.handlers[:], root.level = saved


def test_the_service_class_reports_stop_pending_then_stops_its_body(
    pywin32: dict[str, Any], tmp_path: Path
) -> None:
    from agent.windows.service import make_service_class

    event_records: list[logging.LogRecord] = []

    class EventLog(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            event_records.append(record)

    cls = make_service_class(tmp_path / "agent", FakeSecurity(), event_log=EventLog)
    assert cls._svc_name_ == "xunjian-agent"
    assert "巡检" in cls._svc_display_name_ and "agent" in cls._svc_display_name_
    service = cls(("xunjian-agent",))
    assert service.GetAcceptedControls() == 1 | 4
    thread = threading.Thread(target=service.SvcDoRun, daemon=True)
    thread.start()
    # Not enrolled, no properties: it waits (and says so in the file log and the event log).
    _wait(lambda: (tmp_path / "agent" / "agent.log").exists() and event_records)
    service.SvcStop()
    thread.join(5)
    assert not thread.is_alive()
    events = pywin32["events"]
    assert ("status", 3, names.STOP_WAIT_HINT_MS) in events
    assert "not enrolled" in (tmp_path / "agent" / "agent.log").read_text()
    assert all(record.levelno >= logging.WARNING for record in event_records)


def test_the_service_exits_non_zero_for_recovery_when_the_folder_is_unsafe(
    pywin32: dict[str, Any], tmp_path: Path
) -> None:
    from agent.windows.service import make_service_class

    cls = make_service_class(tmp_path / "agent", FakeSecurity(fail=True), event_log=lambda: None)
    with pytest.raises(SystemExit) as exited:
        cls(("xunjian-agent",)).SvcDoRun()
    assert exited.value.code == 1
    assert any(event[0] == "error" for event in pywin32["events"])


def test_the_log_file_rotates_in_the_state_folder(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        handlers = logs.configure(tmp_path, event_log=lambda: None)
        (file_handler,) = handlers
        assert Path(file_handler.baseFilename) == tmp_path / "agent.log"  # type: ignore[attr-defined]
        assert file_handler.maxBytes == names.LOG_MAX_BYTES  # type: ignore[attr-defined]
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], root.level = saved


def test_remove_state_deletes_the_folder(tmp_path: Path) -> None:
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "spool.db").write_bytes(b"x")
    setup.remove_state(tmp_path / "agent")
    assert not (tmp_path / "agent").exists()
