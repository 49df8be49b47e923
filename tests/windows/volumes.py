"""A Windows volume as a folder (Windows/System32/config/{SOFTWARE,SYSTEM,SAM}, Users/*/NTUSER.DAT)
with the faults an audit of a school PC finds planted in it, and its clean twin.

The faulty PC: Windows 10 22H2 left at its October 2022 update with Windows Update disabled,
Defender's real-time protection off and signatures from 2023, AnyDesk (64-bit), Steam (32-bit)
and 迅雷 (per user) installed, the firewall off in every profile, Remote Desktop on without
Network Level Authentication, SMBv1 on, Remote Registry automatic, AutoRun on, no screen lock,
Windows' default password policy (no length, no complexity, no lockout), Guest enabled, a
second administrator, a former teacher's account unused for 400 days, and a teacher whose
password is 123456. The clean twin differs in exactly those.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from checks.collectors.windows.sam import ACB_DISABLED, ACB_NORMAL, ACB_PASSWORD_NEVER_EXPIRES
from tests.windows.hivebuild import build_hive
from tests.windows.samforge import (
    BUILTIN_ADMINISTRATOR,
    PlantedAccount,
    PlantedPolicy,
    build_sam,
    build_system,
    machine_sid_text,
)

SOFTWARE = "HKEY_LOCAL_MACHINE\\SOFTWARE"
SYSTEM = "HKEY_LOCAL_MACHINE\\SYSTEM"
USER = "HKEY_CURRENT_USER"
# The teacher's profile (Users/teacher), listed in ProfileList as a real SOFTWARE hive lists it.
TEACHER_SID = f"{machine_sid_text()}-1001"
# The clean twin was updated ten days before the test builds it, so it stays clean as time
# passes; its release (25H2) gets security updates until 2027-10-12 (Home/Pro), after which its
# build must move to a newer release in this file and in the lifecycle table.
WHEN = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - datetime.timedelta(days=10)


@dataclass(frozen=True)
class PlantedVolume:
    root: Path
    faulty: bool


def _filetime_parts(moment: datetime.datetime) -> tuple[int, int]:
    ticks = int((moment - datetime.datetime(1601, 1, 1, tzinfo=datetime.UTC)).total_seconds())
    ticks *= 10_000_000
    return ticks >> 32, ticks & 0xFFFFFFFF


def _filetime_hex(moment: datetime.datetime) -> str:
    high, low = _filetime_parts(moment)
    return ",".join(f"{b:02x}" for b in ((high << 32) | low).to_bytes(8, "little"))


def _software_reg(faulty: bool) -> str:
    build, ubr = (19045, 2130) if faulty else (26200, 7171)
    product = "Windows 10 Pro"  # Windows 11 still says so; the build tells
    rollup_at = datetime.datetime(2022, 10, 12, tzinfo=datetime.UTC) if faulty else WHEN
    signatures_at = (
        datetime.datetime(2023, 3, 1, tzinfo=datetime.UTC)
        if faulty
        else WHEN + datetime.timedelta(days=9)  # a day old
    )
    high, low = _filetime_parts(rollup_at)
    cbs = "Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\Packages"
    uninstall = "Microsoft\\Windows\\CurrentVersion\\Uninstall"
    reg = f"""[{SOFTWARE}\\Microsoft\\Windows NT\\CurrentVersion]
"ProductName"="{product}"
"EditionID"="Professional"
"DisplayVersion"="{"22H2" if faulty else "25H2"}"
"CurrentBuildNumber"="{build}"
"CurrentBuild"="{build}"
"UBR"=dword:{ubr:08x}
"InstallationType"="Client"
"InstallDate"=dword:63a0b000

[{SOFTWARE}\\{cbs}\\Package_for_RollupFix~31bf3856ad364e35~amd64~~{build}.{ubr}.1.7]
"CurrentState"=dword:00000070
"InstallTimeHigh"=dword:{high:08x}
"InstallTimeLow"=dword:{low:08x}

[{SOFTWARE}\\{cbs}\\Package_for_RollupFix~31bf3856ad364e35~amd64~~{build}.{ubr - 100}.1.7]
"CurrentState"=dword:00000020

[{SOFTWARE}\\Microsoft\\Windows Defender\\Signature Updates]
"AVSignatureVersion"="{"1.385.12.0" if faulty else "1.421.88.0"}"
"SignaturesLastUpdated"=hex:{_filetime_hex(signatures_at)}

[{SOFTWARE}\\Microsoft\\Windows Defender\\Real-Time Protection]
"DisableRealtimeMonitoring"=dword:{1 if faulty else 0:08x}

[{SOFTWARE}\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\{TEACHER_SID}]
"ProfileImagePath"="C:\\\\Users\\\\teacher"

[{SOFTWARE}\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\S-1-5-18]
"ProfileImagePath"="%systemroot%\\\\system32\\\\config\\\\systemprofile"

[{SOFTWARE}\\{uninstall}\\7-Zip]
"DisplayName"="7-Zip 24.08 (x64)"
"DisplayVersion"="24.08"
"Publisher"="Igor Pavlov"

[{SOFTWARE}\\{uninstall}\\KB5031445]
"DisplayName"="Update for Windows"
"ParentKeyName"="OperatingSystem"

[{SOFTWARE}\\{uninstall}\\{{90160000-008C-0000-1000-0000000FF1CE}}]
"DisplayName"="Office 16 Click-to-Run Extensibility Component"
"SystemComponent"=dword:00000001
"""
    if faulty:
        reg += f"""
[{SOFTWARE}\\{uninstall}\\AnyDesk]
"DisplayName"="AnyDesk"
"DisplayVersion"="ad 8.0.8"
"Publisher"="AnyDesk Software GmbH"
"InstallDate"="20240301"

[{SOFTWARE}\\WOW6432Node\\{uninstall}\\Steam]
"DisplayName"="Steam"
"DisplayVersion"="2.10.91.91"
"Publisher"="Valve Corporation"
"""
    else:
        reg += f"""
[{SOFTWARE}\\Microsoft\\Windows\\CurrentVersion\\Policies\\Explorer]
"NoDriveTypeAutoRun"=dword:000000ff
"""
    return reg


def _system_reg(faulty: bool) -> str:
    cs = f"{SYSTEM}\\ControlSet001"
    firewall = f"{cs}\\Services\\SharedAccess\\Parameters\\FirewallPolicy"
    on = 0 if faulty else 1
    reg = "".join(
        f'\n[{firewall}\\{profile}]\n"EnableFirewall"=dword:{on:08x}\n'
        for profile in ("DomainProfile", "StandardProfile", "PublicProfile")
    )
    starts = {"RemoteRegistry": 2 if faulty else 4, "wuauserv": 4 if faulty else 3}
    starts |= {"WinDefend": 2, "MpsSvc": 2, "TermService": 3, "mrxsmb10": 2 if faulty else 4}
    reg += "".join(
        f'\n[{cs}\\Services\\{name}]\n"Start"=dword:{start:08x}\n' for name, start in starts.items()
    )
    reg += f"""
[{cs}\\Control\\ComputerName\\ComputerName]
"ComputerName"="{"JSJ-01" if faulty else "JSJ-02"}"

[{cs}\\Control\\Terminal Server]
"fDenyTSConnections"=dword:{0 if faulty else 1:08x}

[{cs}\\Control\\Terminal Server\\WinStations\\RDP-Tcp]
"UserAuthentication"=dword:{0 if faulty else 1:08x}

[{cs}\\Services\\LanmanServer\\Parameters]
"SMB1"=dword:{1 if faulty else 0:08x}
"""
    return reg


def _user_reg(faulty: bool) -> str:
    reg = f"""[{USER}\\Control Panel\\Desktop]
"ScreenSaveActive"="{0 if faulty else 1}"
"ScreenSaveTimeOut"="600"
"ScreenSaverIsSecure"="{0 if faulty else 1}"
"""
    if faulty:
        reg += f"""
[{USER}\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\Thunder]
"DisplayName"="迅雷"
"DisplayVersion"="12.1.2.2662"
"Publisher"="深圳市迅雷网络技术有限公司"
"""
    return reg


def build_windows_volume(root: Path, *, faulty: bool) -> PlantedVolume:
    config = root / "Windows" / "System32" / "config"
    config.mkdir(parents=True)
    key = os.urandom(16)
    build_hive(config / "SOFTWARE", _software_reg(faulty), prefix=SOFTWARE)
    build_system(config / "SYSTEM", key, _system_reg(faulty))
    guest_flags = ACB_NORMAL | ACB_PASSWORD_NEVER_EXPIRES | (0 if faulty else ACB_DISABLED)
    accounts = [
        BUILTIN_ADMINISTRATOR,
        PlantedAccount(501, "Guest", None, guest_flags),
        PlantedAccount(
            1001,
            "teacher",
            "123456" if faulty else "Lz9!pWq#4rTe",
            last_logon=WHEN,
            password_last_set=WHEN - datetime.timedelta(days=30),
        ),
        PlantedAccount(1002, "itadmin", "Hv8$kQz!2mWs", last_logon=WHEN),
    ]
    if faulty:  # a teacher who left a year ago, still enabled
        accounts.append(
            PlantedAccount(
                1003, "former", "Qm4!tRz8#wLp", last_logon=WHEN - datetime.timedelta(days=400)
            )
        )
    build_sam(
        config / "SAM",
        key,
        accounts,
        revision=2,
        administrators=[500, 1002] if faulty else [500],
        policy=(
            PlantedPolicy()  # Windows' own defaults: no length, no complexity, no lockout
            if faulty
            else PlantedPolicy(
                min_length=8, complexity=True, max_age_days=90, history=5, lockout_threshold=5
            )
        ),
        administrators_name="管理员组",
    )
    profile = root / "Users" / "teacher"
    profile.mkdir(parents=True)
    build_hive(profile / "NTUSER.DAT", _user_reg(faulty), prefix=USER)
    return PlantedVolume(root, faulty)
