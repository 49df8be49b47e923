"""Facts only the running Windows knows, from recordings in the APIs' own JSON
(tests/windows/recordings/): Defender's MSFT_MpComputerStatus and Security Center's
AntiVirusProduct, read by the agent's collectors through a runner that plays the recordings
instead of powershell.exe (tests/windows/fakepowershell.py), then judged by the real check.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from checks.collectors.windows import facts as windows_facts
from checks.collectors.windows import live
from checks.collectors.windows.antivirus import decode_product_state
from checks.collectors.windows.powershell import json_datetime
from checks.collectors.windows.volume import WindowsVolume
from checks.engine import run_check
from checks.facts import Clock, FactName
from checks.facts_windows import WindowsSystem
from checks.factset import FactSource
from checks.host import HostContext
from checks.registry import REGISTRY
from checks.runner import CommandResult
from tests.windows.fakepowershell import FakePowerShell, defender_and_center
from tests.windows.fakewinreg import HKEY_LOCAL_MACHINE, FakeWinreg

UTC = datetime.UTC


# productState values as administrators published them from real PCs (recordings/README.md),
# and the "expired" state from the published enumeration of the state nibble.
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (266240, ("on", True, False)),  # 0x041000: a third-party AV on, signatures current
        (266256, ("on", False, False)),  # 0x041010: on, signatures out of date
        (262144, ("off", True, False)),  # 0x040000: off
        (270336, ("snoozed", True, False)),  # 0x042000: snoozed
        (274432, ("expired", True, False)),  # 0x043000: its licence expired
        (393472, ("off", True, True)),  # 0x060100: Defender off (another AV took over)
        (397568, ("on", True, True)),  # 0x061100: Defender on
        (397584, ("on", False, True)),  # 0x061110: Defender on, signatures out of date
    ],
)
def test_product_state_is_decoded(value: int, expected: tuple[str, bool, bool]) -> None:
    assert decode_product_state(value) == expected


def test_dates_as_both_powershells_write_them() -> None:
    moment = datetime.datetime(2026, 11, 22, 8, 6, 27, tzinfo=UTC)
    assert json_datetime("/Date(1795334787000)/") == moment  # Windows PowerShell 5.1
    assert json_datetime("2026-11-22T16:06:27+08:00") == moment  # PowerShell 7, China time
    assert json_datetime("/Date(-11644473600000)/") is None  # 1601: Windows' "never"
    assert json_datetime(None) is None and json_datetime("") is None


def _live_host(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    volumes: dict[bool, WindowsVolume],
    runner: FakePowerShell,
) -> HostContext:
    software = volumes[False].hive("SOFTWARE")  # the clean PC's hive: Defender on in it
    assert software is not None
    api = FakeWinreg({(HKEY_LOCAL_MACHINE, "SOFTWARE"): software})
    monkeypatch.setattr(live, "registry_api", lambda: api)
    return HostContext(root=tmp_path, runner=runner, platform="windows", is_tree=False)


def test_defender_status_from_its_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, volumes: dict[bool, WindowsVolume]
) -> None:
    runner = defender_and_center("mpcomputerstatus_on.json", None)
    defender = windows_facts.collect_windows_defender(
        _live_host(tmp_path, monkeypatch, volumes, runner)
    )
    assert defender.live and defender.service_enabled and defender.antivirus_enabled
    assert not defender.realtime_disabled
    assert defender.signature_version == "1.421.88.0"
    assert defender.signatures_updated_at == datetime.datetime(2026, 11, 22, 8, 6, 27, tzinfo=UTC)
    assert defender.quick_scan_at == datetime.datetime(2026, 11, 20, 2, 29, 59, tzinfo=UTC)
    assert defender.full_scan_at == datetime.datetime(2026, 10, 1, 13, 50, 24, tzinfo=UTC)
    assert defender.last_scan_at == defender.quick_scan_at
    ((argv, timeout),) = runner.calls
    assert argv[0] == "powershell.exe" and "-NonInteractive" in argv
    assert "UTF8" in argv[-1]  # a Chinese console would write code page 936
    assert timeout is not None and timeout <= 60


def test_defender_absent_and_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, volumes: dict[bool, WindowsVolume]
) -> None:
    host = _live_host(tmp_path, monkeypatch, volumes, defender_and_center(None, None))
    removed = windows_facts.collect_windows_defender(host)
    assert not removed.installed and removed.service_enabled is False
    runner = defender_and_center("mpcomputerstatus_realtime_off.json", None)
    host = _live_host(tmp_path, monkeypatch, volumes, runner)
    off = windows_facts.collect_windows_defender(host)
    # The hive says real-time is on (clean PC); Defender itself says it is off: Defender wins.
    assert off.realtime_disabled and off.full_scan_at is None


def test_security_center_from_its_recordings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, volumes: dict[bool, WindowsVolume]
) -> None:
    def center(recording: str | None) -> object:
        runner = defender_and_center("mpcomputerstatus_on.json", recording)
        host = _live_host(tmp_path, monkeypatch, volumes, runner)
        return windows_facts.collect_windows_security_center(host)

    both = center("antivirusproduct_360_on.json")
    assert both.readable
    assert [(p.name, p.state, p.signatures_up_to_date, p.by_microsoft) for p in both.products] == [
        ("Windows Defender", "off", True, True),
        ("360杀毒", "on", True, False),
    ]
    alone = center("antivirusproduct_defender_only.json")  # one object, printed bare
    assert [(p.name, p.state) for p in alone.products] == [("Windows Defender", "on")]
    server = center(None)
    assert not server.readable and "Server" in server.reason
    tree = windows_facts.collect_windows_security_center(HostContext.tree(volumes[False].root))
    assert not tree.readable and "running PC" in tree.reason


def test_a_powershell_failure_is_an_error_not_an_empty_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, volumes: dict[bool, WindowsVolume]
) -> None:
    class Broken(FakePowerShell):
        def run(self, argv: object, timeout: float | None = None) -> CommandResult:
            return CommandResult(("powershell.exe",), 1, "", "Access denied\n", False)

    host = _live_host(tmp_path, monkeypatch, volumes, Broken({}))
    with pytest.raises(Exception, match="Access denied") as raised:
        windows_facts.collect_windows_security_center(host)
    assert type(raised.value).__name__ == "CollectError"


@pytest.mark.parametrize(
    ("status", "products", "expected", "words"),
    [
        ("mpcomputerstatus_passive.json", "antivirusproduct_360_on.json", "pass", "360杀毒"),
        ("mpcomputerstatus_passive.json", "antivirusproduct_huorong_stale.json", "fail", "火绒"),
        ("mpcomputerstatus_passive.json", "antivirusproduct_tencent_snoozed.json", "fail",
         "snoozed"),
        ("mpcomputerstatus_realtime_off.json", None, "fail", "real-time protection is off"),
        ("mpcomputerstatus_on.json", "antivirusproduct_defender_only.json", "pass", "Defender"),
    ],
)  # fmt: skip
def test_the_check_judges_the_live_facts(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    volumes: dict[bool, WindowsVolume],
    status: str,
    products: str | None,
    expected: str,
    words: str,
) -> None:
    host = _live_host(tmp_path, monkeypatch, volumes, defender_and_center(status, products))
    spec = REGISTRY["antivirus.windows_protection"]
    # The scan's clock is the recordings' day, so their ages are what the cases mean.
    clock_day = datetime.datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    source = FactSource(host, preset={FactName.CLOCK: Clock(clock_day), FactName.PACKAGES: ()})
    (result,) = run_check(spec, source, "windows", {})
    assert result.status.value == expected, result.message
    assert words in result.message


def _system(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    volumes: dict[bool, WindowsVolume],
    history: str | None,
) -> WindowsSystem:
    runner = defender_and_center(None, None, history)
    return windows_facts.collect_windows_system(_live_host(tmp_path, monkeypatch, volumes, runner))


def test_the_last_cumulative_update_from_windows_updates_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, volumes: dict[bool, WindowsVolume]
) -> None:
    offline = windows_facts.collect_windows_system(HostContext.tree(volumes[False].root))
    assert [(u.build, u.ubr, u.source) for u in offline.cumulative_updates] == [
        (26200, 7171, "cbs")
    ]
    system = _system(tmp_path, monkeypatch, volumes, "updatehistory_en.json")
    # The failed first try, .NET's own cumulative update, Defender's signatures and an
    # uninstall are left out; 26200.7171 is named by the history, with its KB and its date.
    assert [(u.build, u.ubr, u.source, u.kb) for u in system.cumulative_updates] == [
        (26200, 6899, "history", "KB5066835"),
        (26200, 7171, "history", "KB5068861"),
    ]
    last = system.last_cumulative_update
    assert last is not None
    assert last.installed_at == datetime.datetime(2026, 11, 13, 2, 41, 7, tzinfo=UTC)
    assert system.version == offline.version and not system.history_error


def test_a_chinese_history_and_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, volumes: dict[bool, WindowsVolume]
) -> None:
    chinese = _system(tmp_path, monkeypatch, volumes, "updatehistory_zh.json")
    # Succeeded with errors counts; an entry that names no build.UBR is left to CBS.
    assert [(u.build, u.ubr, u.kb) for u in chinese.cumulative_updates] == [
        (26200, 7171, "KB5068861")
    ]
    empty = _system(tmp_path, monkeypatch, volumes, "updatehistory_none.json")
    assert [(u.ubr, u.source) for u in empty.cumulative_updates] == [(7171, "cbs")]


def test_an_unreadable_history_leaves_the_hives_updates_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, volumes: dict[bool, WindowsVolume]
) -> None:
    system = _system(tmp_path, monkeypatch, volumes, None)
    assert "Windows Update's history" in system.history_error
    assert [(u.ubr, u.source) for u in system.cumulative_updates] == [(7171, "cbs")]
    spec = REGISTRY["patch.windows_update_age"]
    source = FactSource.from_values(
        {FactName.WINDOWS_SYSTEM: system, FactName.CLOCK: Clock(datetime.datetime.now(UTC))}
    )
    (result,) = run_check(spec, source, "windows", {})
    assert result.status.value == "pass"  # CBS's 26200.7171 was installed ten days ago
    assert result.evidence["update_history"] == system.history_error


def test_pending_updates_are_not_applicable_until_the_agent_searched(
    tmp_path: Path, volumes: dict[bool, WindowsVolume]
) -> None:
    from checks.collectors.windows.facts import collect_windows_pending_updates
    from checks.errors import NotApplicable

    outside = HostContext(tmp_path, None, "windows", is_tree=False)
    not_yet = HostContext(tmp_path, None, "windows", is_tree=False, cache=tmp_path)
    for host, reason in (
        (HostContext.tree(volumes[False].root), "running PC"),
        (outside, "outside the agent"),
        (not_yet, "not finished a search"),
    ):
        with pytest.raises(NotApplicable, match=reason):
            collect_windows_pending_updates(host)
