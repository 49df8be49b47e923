"""Fact-table cases for the Windows checks (checks/library/windows.py); merged into CASES.

Facts are the typed Windows facts the hive readers produce; the clock is the tables' fixed
TODAY (2026-11-23), so the lifecycle dates judge the same on any day the suite runs.
"""

from __future__ import annotations

import datetime

from checks.collectors.windows.antivirus import security_center_products
from checks.errors import CollectError, NoPrivilege, NotApplicable
from checks.facts import FactName, InstalledPackage, ListeningProgram
from checks.facts_windows import (
    CumulativeUpdate,
    DefenderState,
    Exposure,
    LocalAccount,
    SamPasswordPolicy,
    SecurityCenter,
    UserScreenLock,
    WindowsAccounts,
    WindowsDesktop,
    WindowsSystem,
    WindowsVersion,
)
from tests.checks import facts_tables as t
from tests.checks.case import Case

F = FactName
TODAY = t.TODAY
MACHINE = "S-1-5-21-1-2-3"


def _system(
    build: int = 26200,
    edition: str = "Professional",
    kind: str = "Client",
    updated_days_ago: int | None = 10,
) -> WindowsSystem:
    version = WindowsVersion("Windows 10 Pro", edition, "", build, 7171, kind, None)
    updates = (
        ()
        if updated_days_ago is None
        else (CumulativeUpdate(build, 7171, TODAY - datetime.timedelta(days=updated_days_ago)),)
    )
    return WindowsSystem(version, updates)


def _exposure(**changes: object) -> Exposure:
    values: dict[str, object] = {
        "firewall": {"domain": True, "private": True, "public": True},
        "rdp_enabled": False,
        "rdp_requires_nla": True,
        "smb1_server": False,
        "smb1_client_driver": False,
        "services": {"RemoteRegistry": "disabled", "wuauserv": "manual"},
        "autorun_disabled_drive_types": 0xFF,
        "windows_update_disabled_by_policy": False,
    }
    values.update(changes)
    return Exposure(**values)  # type: ignore[arg-type]


def _defender(**changes: object) -> DefenderState:
    values: dict[str, object] = {
        "installed": True,
        "disabled_by_policy": False,
        "realtime_disabled": False,
        "signature_version": "1.421.88.0",
        "signatures_updated_at": TODAY - datetime.timedelta(days=1),
    }
    values.update(changes)
    return DefenderState(**values)  # type: ignore[arg-type]


OFFLINE_CENTER = SecurityCenter(False, "Security Center is read only on the running PC")


def _live_defender(scanned_days_ago: int | None = 3, **changes: object) -> DefenderState:
    scanned = (
        None if scanned_days_ago is None else TODAY - datetime.timedelta(days=scanned_days_ago)
    )
    values: dict[str, object] = {
        "service_enabled": True,
        "antivirus_enabled": True,
        "quick_scan_at": scanned,
        "full_scan_at": None,
    }
    values.update(changes)
    return _defender(**values)


def _center(*products: tuple[str, int]) -> SecurityCenter:
    """Security Center with Defender registered as off (393472) and the given products."""
    entries = [("Windows Defender", 393472), *products]
    return SecurityCenter(True, "", security_center_products(
        [{"displayName": name, "productState": state} for name, state in entries]
    ))  # fmt: skip


def _live_av(defender: DefenderState, center: SecurityCenter | None = None) -> dict[F, object]:
    return {
        F.WINDOWS_DEFENDER: defender,
        F.WINDOWS_SECURITY_CENTER: center or _center(),
        F.PACKAGES: NO_PACKAGES,
        F.CLOCK: t.CLOCK,
    }


def _account(
    rid: int,
    name: str,
    disabled: bool = False,
    logon_days_ago: int | None = 5,
    password_days_ago: int | None = 30,
) -> LocalAccount:
    def ago(days: int | None) -> datetime.datetime | None:
        return None if days is None else TODAY - datetime.timedelta(days=days)

    return LocalAccount(
        rid, name, "", "", disabled, False, False, False, True,
        ago(logon_days_ago), ago(password_days_ago), 0, 0,
    )  # fmt: skip


def _accounts(
    guest_disabled: bool = True,
    admins: tuple[int | str, ...] = (500,),
    more: tuple[LocalAccount, ...] = (),
    policy: SamPasswordPolicy | None = None,
) -> WindowsAccounts:
    members = tuple(f"{MACHINE}-{a}" if isinstance(a, int) else a for a in admins)
    return WindowsAccounts(
        accounts=(
            _account(500, "Administrator", disabled=True, logon_days_ago=None),
            _account(501, "Guest", disabled=guest_disabled, logon_days_ago=None),
            _account(1001, "teacher"),
            _account(1002, "itadmin"),
            *more,
        ),
        machine_sid=MACHINE,
        administrators=members,
        policy=policy or SamPasswordPolicy(8, True, 90, 0, 5, 5, 30),
    )


def _desktop(machine: int | None = None, *users: UserScreenLock) -> WindowsDesktop:
    return WindowsDesktop(machine, users)


def _package(name: str) -> InstalledPackage:
    return InstalledPackage(name, "1.0", "", "", "uninstall-64")


NO_PACKAGES: tuple[InstalledPackage, ...] = ()


def _windows_program(pid: int, name: str, ports: tuple[str, ...]) -> ListeningProgram:
    return ListeningProgram(pid, name, f"C:\\Windows\\System32\\{name}", ports, None, False)


WINDOWS_CASES: dict[str, list[Case]] = {
    "patch.windows_supported": [
        Case(
            "Windows 11 25H2",
            {F.WINDOWS_SYSTEM: _system(26200), F.CLOCK: t.CLOCK},
            {("pass", "host")},
        ),
        Case(
            "Windows 10 22H2 after 2025-10-14",
            {F.WINDOWS_SYSTEM: _system(19045), F.CLOCK: t.CLOCK},
            {("fail", "host")},
        ),
        Case(
            "Windows 10 22H2 under ESU",
            {F.WINDOWS_SYSTEM: _system(19045), F.CLOCK: t.CLOCK},
            {("pass", "host")},
            {"esu_until": "2026-12-31"},
        ),
        Case(
            "Windows 11 23H2 Enterprise: a year longer than Pro, ended 2026-11-10",
            {F.WINDOWS_SYSTEM: _system(22631, "Enterprise"), F.CLOCK: t.CLOCK},
            {("fail", "host")},
        ),
        Case(
            "LTSC 2021 runs to 2027",
            {F.WINDOWS_SYSTEM: _system(19044, "EnterpriseS"), F.CLOCK: t.CLOCK},
            {("pass", "host")},
        ),
        Case(
            "Server 2012 R2",
            {F.WINDOWS_SYSTEM: _system(9600, "ServerStandard", "Server"), F.CLOCK: t.CLOCK},
            {("fail", "host")},
        ),
        Case(
            "a build the table does not know is not passed",
            {F.WINDOWS_SYSTEM: _system(29999), F.CLOCK: t.CLOCK},
            {("not_applicable", "host")},
        ),
    ],
    "patch.windows_update_age": [
        Case("ten days", {F.WINDOWS_SYSTEM: _system(), F.CLOCK: t.CLOCK}, {("pass", "host")}),
        Case(
            "ninety days",
            {F.WINDOWS_SYSTEM: _system(updated_days_ago=90), F.CLOCK: t.CLOCK},
            {("fail", "host")},
        ),
        Case(
            "none recorded",
            {F.WINDOWS_SYSTEM: _system(updated_days_ago=None), F.CLOCK: t.CLOCK},
            {("fail", "host")},
        ),
        Case(
            "no SOFTWARE hive",
            {F.WINDOWS_SYSTEM: NotApplicable("no SOFTWARE hive"), F.CLOCK: t.CLOCK},
            {("not_applicable", "host")},
        ),
    ],
    "patch.windows_update_service": [
        Case("may run", {F.WINDOWS_EXPOSURE: _exposure()}, {("pass", "service:wuauserv")}),
        Case(
            "service disabled",
            {F.WINDOWS_EXPOSURE: _exposure(services={"wuauserv": "disabled"})},
            {("fail", "service:wuauserv")},
        ),
        Case(
            "policy off",
            {F.WINDOWS_EXPOSURE: _exposure(windows_update_disabled_by_policy=True)},
            {("fail", "service:wuauserv")},
        ),
    ],
    "antivirus.windows_protection": [
        Case(
            "Defender on, fresh",
            {
                F.WINDOWS_DEFENDER: _defender(),
                F.WINDOWS_SECURITY_CENTER: OFFLINE_CENTER,
                F.PACKAGES: NO_PACKAGES,
                F.CLOCK: t.CLOCK,
            },
            {("pass", "host")},
        ),
        Case(
            "stale signatures",
            {
                F.WINDOWS_DEFENDER: _defender(
                    signatures_updated_at=TODAY - datetime.timedelta(days=30)
                ),
                F.WINDOWS_SECURITY_CENTER: OFFLINE_CENTER,
                F.PACKAGES: NO_PACKAGES,
                F.CLOCK: t.CLOCK,
            },
            {("fail", "host")},
        ),
        Case(
            "real-time off and stale signatures: one cause, one failure",
            {
                F.WINDOWS_DEFENDER: _defender(
                    realtime_disabled=True,
                    signatures_updated_at=TODAY - datetime.timedelta(days=300),
                ),
                F.WINDOWS_SECURITY_CENTER: OFFLINE_CENTER,
                F.PACKAGES: NO_PACKAGES,
                F.CLOCK: t.CLOCK,
            },
            {("fail", "host")},
        ),
        Case(
            "Defender off by policy, 火绒 installed: its state is read on the running PC",
            {
                F.WINDOWS_DEFENDER: _defender(disabled_by_policy=True),
                F.WINDOWS_SECURITY_CENTER: OFFLINE_CENTER,
                F.PACKAGES: (_package("火绒安全软件"),),
                F.CLOCK: t.CLOCK,
            },
            {("not_applicable", "host")},
        ),
        Case(
            "no Defender, nothing else",
            {
                F.WINDOWS_DEFENDER: _defender(installed=False),
                F.WINDOWS_SECURITY_CENTER: OFFLINE_CENTER,
                F.PACKAGES: (_package("7-Zip"),),
                F.CLOCK: t.CLOCK,
            },
            {("fail", "host")},
        ),
        Case(
            "live: Defender on, fresh, scanned 3 days ago",
            _live_av(_live_defender()),
            {("pass", "host")},
        ),
        Case(
            "live: Defender's last scan 30 days ago",
            _live_av(_live_defender(scanned_days_ago=30)),
            {("fail", "host")},
        ),
        Case(
            "live: Defender never finished a scan",
            _live_av(_live_defender(scanned_days_ago=None)),
            {("fail", "host")},
        ),
        Case(
            "live: engine stopped, stale signatures, never scanned: one cause, one failure",
            _live_av(
                _live_defender(
                    service_enabled=False,
                    scanned_days_ago=None,
                    signatures_updated_at=TODAY - datetime.timedelta(days=300),
                )
            ),
            {("fail", "host")},
        ),
        Case(
            "live: 360杀毒 on and current, Defender passive",
            _live_av(_live_defender(antivirus_enabled=False), _center(("360杀毒", 266240))),
            {("pass", "host")},
        ),
        Case(
            "live: 火绒 on with stale signatures",
            _live_av(_live_defender(antivirus_enabled=False), _center(("火绒安全软件", 266256))),
            {("fail", "host")},
        ),
        Case(
            "live: 腾讯电脑管家 snoozed and Defender passive: no working antivirus, once",
            _live_av(_live_defender(antivirus_enabled=False), _center(("腾讯电脑管家", 270336))),
            {("fail", "host")},
        ),
        Case(
            "live: a third-party product off, Defender on and current",
            _live_av(_live_defender(), _center(("Kaspersky Endpoint Security", 262144))),
            {("pass", "host")},
        ),
        Case(
            "live Server: no Security Center, Defender removed, 360 only in Uninstall",
            {
                F.WINDOWS_DEFENDER: _defender(installed=False, service_enabled=False),
                F.WINDOWS_SECURITY_CENTER: SecurityCenter(False, "a Server"),
                F.PACKAGES: (_package("360安全卫士"),),
                F.CLOCK: t.CLOCK,
            },
            {("not_applicable", "host")},
        ),
    ],
    "firewall.windows_profiles": [
        Case("all on", {F.WINDOWS_EXPOSURE: _exposure()}, {("pass", "host")}),
        Case(
            "public off",
            {
                F.WINDOWS_EXPOSURE: _exposure(
                    firewall={"domain": True, "private": True, "public": False}
                )
            },
            {("fail", "firewall:public")},
        ),
        Case(
            "nothing known",
            {
                F.WINDOWS_EXPOSURE: _exposure(
                    firewall={"domain": None, "private": None, "public": None}
                )
            },
            {("error", "host")},
        ),
    ],
    "services.windows_remote_desktop": [
        Case("off", {F.WINDOWS_EXPOSURE: _exposure()}, {("pass", "service:rdp")}),
        Case(
            "on with NLA",
            {F.WINDOWS_EXPOSURE: _exposure(rdp_enabled=True)},
            {("pass", "service:rdp")},
        ),
        Case(
            "on without NLA",
            {F.WINDOWS_EXPOSURE: _exposure(rdp_enabled=True, rdp_requires_nla=False)},
            {("fail", "service:rdp")},
        ),
        Case(
            "on, not allowed in this group",
            {F.WINDOWS_EXPOSURE: _exposure(rdp_enabled=True)},
            {("fail", "service:rdp")},
            {"allowed": False},
        ),
    ],
    "services.windows_listening": [
        Case(
            "a PC with only Windows's own ports",
            {
                F.LISTENING_SOCKETS: (
                    t.tcp(135),
                    t.tcp(445),
                    t.tcp(139, "192.168.1.20"),
                    t.tcp(5357),
                    t.tcp(49664),
                    t.tcp(49668, "::"),
                    t.tcp(3306, "127.0.0.1"),
                    t.udp(137),
                ),
                F.LISTENING_PROGRAMS: (
                    _windows_program(700, "lsass.exe", ("tcp/49664",)),
                    _windows_program(2310, "spoolsv.exe", ("tcp/49668",)),
                ),
            },
            {("pass", "host")},
        ),
        Case(
            "a remote-control program and a dynamic port held by something else",
            {
                F.LISTENING_SOCKETS: (t.tcp(445), t.tcp(7070), t.tcp(50123)),
                F.LISTENING_PROGRAMS: (
                    _windows_program(3100, "AnyDesk.exe", ("tcp/7070",)),
                    _windows_program(3500, "evil.exe", ("tcp/50123",)),
                ),
            },
            {("fail", "port:tcp/7070"), ("fail", "port:tcp/50123")},
        ),
        Case(
            "without the programs, RPC's dynamic ports are unknown",
            {
                F.LISTENING_SOCKETS: (t.tcp(445), t.tcp(49664)),
                F.LISTENING_PROGRAMS: NoPrivilege("the process table is not readable"),
            },
            {("fail", "port:tcp/49664")},
        ),
        Case(
            "approved by policy, system ports narrowed",
            {F.LISTENING_SOCKETS: (t.tcp(7070), t.tcp(3389)), F.LISTENING_PROGRAMS: ()},
            {("fail", "port:tcp/3389")},
            {"approved_tcp_ports": [7070], "windows_system_ports": [135, 445]},
        ),
    ],
    "services.windows_smb1": [
        Case("off", {F.WINDOWS_EXPOSURE: _exposure()}, {("pass", "host")}),
        Case(
            "server on",
            {F.WINDOWS_EXPOSURE: _exposure(smb1_server=True)},
            {("fail", "service:smb1-server")},
        ),
    ],
    "services.windows_remote_registry": [
        Case(
            "disabled",
            {F.WINDOWS_EXPOSURE: _exposure()},
            {("pass", "service:RemoteRegistry")},
        ),
        Case(
            "automatic",
            {F.WINDOWS_EXPOSURE: _exposure(services={"RemoteRegistry": "automatic"})},
            {("fail", "service:RemoteRegistry")},
        ),
    ],
    "accounts.windows_guest": [
        Case("disabled", {F.WINDOWS_ACCOUNTS: _accounts()}, {("pass", "user:Guest")}),
        Case(
            "enabled",
            {F.WINDOWS_ACCOUNTS: _accounts(guest_disabled=False)},
            {("fail", "user:Guest")},
        ),
        Case(
            "SAM unreadable",
            {F.WINDOWS_ACCOUNTS: CollectError("damaged registry hive")},
            {("error", "host")},
        ),
    ],
    "accounts.windows_administrators": [
        Case("built-in only", {F.WINDOWS_ACCOUNTS: _accounts()}, {("pass", "host")}),
        Case(
            "a second administrator and a domain group",
            {F.WINDOWS_ACCOUNTS: _accounts(admins=(500, 1002, "S-1-5-21-9-9-9-512"))},
            {("fail", "user:itadmin"), ("fail", "user:S-1-5-21-9-9-9-512")},
        ),
        Case(
            "approved",
            {F.WINDOWS_ACCOUNTS: _accounts(admins=(500, 1002))},
            {("pass", "host")},
            {"allowed": ["ITADMIN"]},
        ),
    ],
    "password.windows_policy": [
        Case(
            "a good policy",
            {F.WINDOWS_ACCOUNTS: _accounts()},
            {
                ("pass", "policy:min_length"),
                ("pass", "policy:complexity"),
                ("pass", "policy:max_age"),
                ("pass", "policy:lockout"),
            },
        ),
        Case(
            "Windows' defaults",
            {F.WINDOWS_ACCOUNTS: _accounts(policy=SamPasswordPolicy(0, False, 42, 0, 0, 0, None))},
            {
                ("fail", "policy:min_length"),
                ("fail", "policy:complexity"),
                ("pass", "policy:max_age"),
                ("fail", "policy:lockout"),
            },
        ),
        Case(
            "passwords never expire",
            {F.WINDOWS_ACCOUNTS: _accounts(policy=SamPasswordPolicy(8, True, None, 0, 5, 5, 30))},
            {
                ("pass", "policy:min_length"),
                ("pass", "policy:complexity"),
                ("fail", "policy:max_age"),
                ("pass", "policy:lockout"),
            },
        ),
    ],
    "accounts.windows_unused": [
        Case(
            "all recent",
            {F.WINDOWS_ACCOUNTS: _accounts(), F.CLOCK: t.CLOCK},
            {("pass", "host")},
        ),
        Case(
            "gone a year, and one never logged on",
            {
                F.WINDOWS_ACCOUNTS: _accounts(
                    more=(
                        _account(1003, "former", logon_days_ago=400),
                        _account(1004, "spare", logon_days_ago=None, password_days_ago=200),
                        _account(1005, "new", logon_days_ago=None, password_days_ago=3),
                        _account(1006, "left", disabled=True, logon_days_ago=900),
                    )
                ),
                F.CLOCK: t.CLOCK,
            },
            {("fail", "user:former"), ("fail", "user:spare")},
        ),
        Case(
            "exempt",
            {
                F.WINDOWS_ACCOUNTS: _accounts(
                    more=(_account(1003, "emergency", logon_days_ago=400),)
                ),
                F.CLOCK: t.CLOCK,
            },
            {("pass", "host")},
            {"exempt": ["Emergency"]},
        ),
    ],
    "services.windows_autorun": [
        Case("all drives off", {F.WINDOWS_EXPOSURE: _exposure()}, {("pass", "host")}),
        Case(
            "not set",
            {F.WINDOWS_EXPOSURE: _exposure(autorun_disabled_drive_types=None)},
            {("fail", "host")},
        ),
        Case(
            "Windows' default 0x91 leaves USB sticks on",
            {F.WINDOWS_EXPOSURE: _exposure(autorun_disabled_drive_types=0x91)},
            {("fail", "host")},
        ),
    ],
    "services.windows_screen_lock": [
        Case(
            "machine inactivity limit",
            {F.WINDOWS_DESKTOP: _desktop(600, UserScreenLock("teacher", False, False, None))},
            {("pass", "host")},
        ),
        Case(
            "per user",
            {
                F.WINDOWS_DESKTOP: _desktop(
                    None,
                    UserScreenLock("teacher", True, True, 600),
                    UserScreenLock("guestuser", True, False, 600),
                    UserScreenLock("lab", True, True, 3600),
                )
            },
            {("pass", "user:teacher"), ("fail", "user:guestuser"), ("fail", "user:lab")},
        ),
        Case("no profiles", {F.WINDOWS_DESKTOP: _desktop()}, {("not_applicable", "host")}),
    ],
}
