"""Local accounts and the password policy from NetUserEnum/NetUserModalsGet when the SAM cannot
be saved (checks/collectors/windows/netapi.py).

Replaced, and only that: pywin32's win32net, by a fake Net API that answers with recordings
shaped from Microsoft's and pywin32's documentation (tests/windows/recordings/README.md), and
the hive saver, by one that is refused the backup privilege or fails to save. The conversion,
the fallback and the checks that judge the fact are the agent's own code.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from checks.collectors.windows import facts as windows_facts
from checks.collectors.windows import live
from checks.collectors.windows.netapi import (
    UF_ACCOUNTDISABLE,
    UF_DONT_EXPIRE_PASSWD,
    UF_PASSWD_NOTREQD,
    accounts_from_users,
    policy_from_modals,
)
from checks.collectors.windows.volume import WindowsVolume
from checks.errors import CollectError, NoPrivilege, NotApplicable
from checks.host import HostContext
from checks.library import windows as windows_checks
from checks.model import Status
from tests.windows.test_live_registry import FakeSaver

RECORDINGS = Path(__file__).parent / "recordings"


def _recording(name: str) -> Any:
    return json.loads((RECORDINGS / name).read_text(encoding="utf-8"))


class FakeNetApi:
    """live.NetApi answering with recordings; records the calls."""

    def __init__(self, level0: str = "netusermodalsget_level0.json") -> None:
        self.level0 = level0
        self.calls: list[str] = []

    def users(self) -> list[dict[str, Any]]:
        self.calls.append("NetUserEnum 3")
        return list(_recording("netuserenum_level3.json"))

    def modals(self, level: int) -> dict[str, Any]:
        self.calls.append(f"NetUserModalsGet {level}")
        name = self.level0 if level == 0 else f"netusermodalsget_level{level}.json"
        return dict(_recording(name))

    def administrator_sids(self) -> list[str]:
        self.calls.append("NetLocalGroupGetMembers")
        return list(_recording("netlocalgroupgetmembers_administrators.json"))


class RefusedSaver(FakeSaver):
    """No SeBackupPrivilege, or (wine) no HKLM\\SAM to save."""

    def save_key(self, name: str, target: Path) -> None:
        self.calls.append(f"save {name}")
        raise live.SaveFailed(f"saving HKEY_LOCAL_MACHINE\\{name}: the key does not exist")


def _live_host(tmp_path: Path) -> HostContext:
    return HostContext(root=tmp_path, runner=None, platform="windows", is_tree=False)


def test_user_info_3_records_become_the_sam_paths_accounts() -> None:
    users = _recording("netuserenum_level3.json")
    now = datetime.datetime(2024, 12, 6, 8, 0, tzinfo=datetime.UTC)
    accounts = accounts_from_users(users, now)
    assert [account.rid for account in accounts] == sorted(user["user_id"] for user in users)
    by_name = {user["name"]: user for user in users}
    for account in accounts:
        user = by_name[account.name]
        assert account.rid == user["user_id"]
        assert account.disabled is bool(user["flags"] & UF_ACCOUNTDISABLE)
        assert account.password_not_required is bool(user["flags"] & UF_PASSWD_NOTREQD)
        assert account.password_never_expires is bool(user["flags"] & UF_DONT_EXPIRE_PASSWD)
        assert account.has_password is None  # the Net API never tells
        assert account.password_last_set == now - datetime.timedelta(seconds=user["password_age"])
        assert account.logon_count == user["num_logons"]
        if user["last_logon"]:
            assert account.last_logon is not None
            assert account.last_logon.timestamp() == user["last_logon"]
        else:
            assert account.last_logon is None  # 0: never logged on
    teacher = next(account for account in accounts if account.name == "teacher")
    assert teacher.full_name == "张老师" and teacher.bad_password_count == 2
    assert not teacher.disabled and not teacher.password_never_expires


def test_modals_levels_0_and_3_become_the_sam_paths_policy() -> None:
    level3 = _recording("netusermodalsget_level3.json")
    default = policy_from_modals(_recording("netusermodalsget_level0.json"), level3)
    assert default.min_length == 0 and default.max_age_days == 42 and default.history == 0
    assert default.complexity is None  # not in USER_MODALS_INFO_0/3
    assert default.lockout_threshold == 10 and default.lockout_minutes == 30
    strict = policy_from_modals(_recording("netusermodalsget_level0_never.json"), level3)
    assert strict.max_age_days is None  # TIMEQ_FOREVER
    assert strict.min_length == 8 and strict.min_age_days == 1 and strict.history == 5
    # pywin32 has returned TIMEQ_FOREVER signed as well
    signed = policy_from_modals(
        {**_recording("netusermodalsget_level0_never.json"), "max_passwd_age": -1},
        {**level3, "lockout_duration": -1},
    )
    assert signed.max_age_days is None and signed.lockout_minutes is None


@pytest.mark.parametrize("refusal", ["privilege", "save"])
def test_without_the_sam_the_accounts_come_from_the_net_api(
    volumes: dict[bool, WindowsVolume],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    refusal: str,
) -> None:
    saver = (
        FakeSaver(volumes[True], tmp_path, fail_on="privilege")
        if refusal == "privilege"
        else RefusedSaver(volumes[True], tmp_path)
    )
    api = FakeNetApi()
    monkeypatch.setattr(live, "hive_saver", lambda: saver)
    monkeypatch.setattr(live, "net_api", lambda: api)
    fact = windows_facts.collect_windows_accounts(_live_host(tmp_path))
    assert fact.source == "netapi"
    assert fact.machine_sid == _recording("netusermodalsget_level2.json")["domain_id"]
    assert list(fact.administrators) == _recording("netlocalgroupgetmembers_administrators.json")
    assert [account.name for account in fact.accounts] == [
        "Administrator", "Guest", "DefaultAccount", "teacher", "lab",
    ]  # fmt: skip
    assert fact.account_of(fact.administrators[1]) == fact.accounts[3]  # teacher, by SID
    assert fact.account_of(fact.administrators[2]) is None  # a domain group
    assert sorted(api.calls) == sorted(
        [
            "NetUserModalsGet 2",
            "NetUserEnum 3",
            "NetLocalGroupGetMembers",
            "NetUserModalsGet 0",
            "NetUserModalsGet 3",
        ]
    )
    assert not any(folder.exists() for folder in saver.folders)


def test_the_checks_judge_the_net_api_fact(
    volumes: dict[bool, WindowsVolume], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saver = FakeSaver(volumes[True], tmp_path, fail_on="privilege")
    monkeypatch.setattr(live, "hive_saver", lambda: saver)
    monkeypatch.setattr(live, "net_api", FakeNetApi)
    fact = windows_facts.collect_windows_accounts(_live_host(tmp_path))

    class Facts:
        windows_accounts = fact

    guest = windows_checks.guest(Facts(), {})  # type: ignore[arg-type]
    assert [(f.status, f.resource) for f in guest] == [(Status.FAIL, "user:Guest")]
    admins = windows_checks.administrators(Facts(), {"allowed": []})  # type: ignore[arg-type]
    assert sorted(f.resource for f in admins) == [
        "user:S-1-5-21-1004336348-1177238915-682003330-512",
        "user:teacher",
    ]
    policy = windows_checks.password_policy(
        Facts(),  # type: ignore[arg-type]
        {"min_length": 8, "max_days": 90, "max_lockout_threshold": 10},
    )
    assert {f.resource: f.status for f in policy} == {
        "policy:min_length": Status.FAIL,
        "policy:complexity": Status.NOT_APPLICABLE,  # unknown, never passed
        "policy:max_age": Status.PASS,
        "policy:lockout": Status.PASS,
    }


def test_weak_passwords_do_not_fall_back(
    volumes: dict[bool, WindowsVolume], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NT hashes are only in the SAM: without it, no_privilege, and the Net API is not asked."""
    saver = FakeSaver(volumes[True], tmp_path, fail_on="privilege")
    api = FakeNetApi()
    monkeypatch.setattr(live, "hive_saver", lambda: saver)
    monkeypatch.setattr(live, "net_api", lambda: api)
    with pytest.raises(NoPrivilege):
        windows_facts.collect_windows_weak_passwords(_live_host(tmp_path))
    assert api.calls == []


def test_a_net_api_answer_without_its_fields_is_a_collect_error(
    volumes: dict[bool, WindowsVolume], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(FakeNetApi):
        def modals(self, level: int) -> dict[str, Any]:
            return {} if level == 3 else super().modals(level)

    monkeypatch.setattr(
        live, "hive_saver", lambda: FakeSaver(volumes[True], tmp_path, fail_on="privilege")
    )
    monkeypatch.setattr(live, "net_api", Broken)
    with pytest.raises(CollectError, match="NetUserModalsGet level 3 has no integer"):
        windows_facts.collect_windows_accounts(_live_host(tmp_path))


def test_from_a_volume_the_net_api_is_never_asked(
    volumes: dict[bool, WindowsVolume], monkeypatch: pytest.MonkeyPatch
) -> None:
    api = FakeNetApi()
    monkeypatch.setattr(live, "net_api", lambda: api)
    fact = windows_facts.collect_windows_accounts(HostContext.tree(volumes[True].root))
    assert fact.source == "sam" and api.calls == []


class WineNetApi(FakeNetApi):
    """What wine 8's netapi32 offers (its dlls/netapi32/netapi32.c): NetUserEnum levels 0 and
    20 for the current user only, NetUserModalsGet level 2 only (0, 1 and 3 answer
    NERR_InternalError, which Pywin32NetApi turns into NetApiUnavailable under wine)."""

    def users(self) -> list[dict[str, Any]]:
        self.calls.append("NetUserEnum 20")
        return list(_recording("netuserenum_level20_wine.json"))

    def modals(self, level: int) -> dict[str, Any]:
        if level != 2:
            self.calls.append(f"NetUserModalsGet {level} refused")
            raise live.NetApiUnavailable(
                f"NetUserModalsGet level {level} is not offered by this Windows (wine)"
            )
        return super().modals(level)


def test_what_wine_offers_gives_accounts_and_says_what_is_unknown(
    volumes: dict[bool, WindowsVolume], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "hive_saver", lambda: RefusedSaver(volumes[True], tmp_path))
    monkeypatch.setattr(live, "net_api", WineNetApi)
    fact = windows_facts.collect_windows_accounts(_live_host(tmp_path))
    (user,) = fact.accounts
    assert (user.name, user.rid, user.disabled) == ("xunjian", 1000, False)
    assert user.last_logon is None and user.password_last_set is None
    assert fact.policy is None and "level 0 is not offered" in fact.policy_error
    assert not fact.logon_times_known

    class Facts:
        windows_accounts = fact

    for check, params in (
        (windows_checks.password_policy, {"min_length": 8, "max_days": 90}),
        (windows_checks.unused_accounts, {"max_unused_days": 90, "exempt": []}),
    ):
        with pytest.raises(NotApplicable):
            check(Facts(), params)  # type: ignore[arg-type]
    assert [f.status for f in windows_checks.guest(Facts(), {})] == [Status.PASS]  # type: ignore[arg-type]
