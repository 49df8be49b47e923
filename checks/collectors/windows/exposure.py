"""Services and exposure read from the SYSTEM and SOFTWARE hives (E17, E18): firewall
profiles, Remote Desktop and whether it requires Network Level Authentication, SMBv1, Remote
Registry, Windows Update's service, AutoRun. Group-policy values (``SOFTWARE\\Policies``) win
over the local settings, as Windows applies them.
"""

from __future__ import annotations

from checks.collectors.windows.registry import RegistrySource, current_control_set
from checks.facts_windows import Exposure

# Services' Start values.
START_BOOT, START_SYSTEM, START_AUTO, START_MANUAL, START_DISABLED = 0, 1, 2, 3, 4
START_NAMES = {0: "boot", 1: "system", 2: "automatic", 3: "manual", 4: "disabled"}
FIREWALL_PROFILES = {  # local key name -> policy key name, as the firewall calls them
    "DomainProfile": "DomainProfile",
    "StandardProfile": "PrivateProfile",
    "PublicProfile": "PublicProfile",
}
PROFILE_LABELS = {
    "DomainProfile": "domain",
    "StandardProfile": "private",
    "PublicProfile": "public",
}
# NoDriveTypeAutoRun bits: 0x04 removable, 0x08 fixed, 0x10 network, 0x20 CD-ROM; 0xFF all.
AUTORUN_ALL_OFF = 0xFF


def _dword(hive: RegistrySource, path: str, name: str) -> int | None:
    key = hive.key(path)
    value = key.value(name) if key is not None else None
    return value if isinstance(value, int) else None


def _first(*values: int | None) -> int | None:
    return next((value for value in values if value is not None), None)


def read_exposure(system: RegistrySource, software: RegistrySource | None) -> Exposure:
    cs = current_control_set(system)

    def policy(path: str, name: str) -> int | None:
        return _dword(software, f"Policies\\{path}", name) if software is not None else None

    firewall: dict[str, bool | None] = {}
    for local, policy_name in FIREWALL_PROFILES.items():
        enabled = _first(
            policy(f"Microsoft\\WindowsFirewall\\{policy_name}", "EnableFirewall"),
            _dword(
                system,
                f"{cs}\\Services\\SharedAccess\\Parameters\\FirewallPolicy\\{local}",
                "EnableFirewall",
            ),
        )
        firewall[PROFILE_LABELS[local]] = None if enabled is None else bool(enabled)
    deny = _first(
        policy("Microsoft\\Windows NT\\Terminal Services", "fDenyTSConnections"),
        _dword(system, f"{cs}\\Control\\Terminal Server", "fDenyTSConnections"),
    )
    nla = _first(
        policy("Microsoft\\Windows NT\\Terminal Services", "UserAuthentication"),
        _dword(
            system, f"{cs}\\Control\\Terminal Server\\WinStations\\RDP-Tcp", "UserAuthentication"
        ),
    )
    smb1 = _dword(system, f"{cs}\\Services\\LanmanServer\\Parameters", "SMB1")
    services: dict[str, str | None] = {}
    for name in ("RemoteRegistry", "wuauserv", "WinDefend", "MpsSvc", "TermService", "mrxsmb10"):
        start = _dword(system, f"{cs}\\Services\\{name}", "Start")
        services[name] = None if start is None else START_NAMES.get(start, str(start))
    autorun = None
    if software is not None:
        autorun = _dword(
            software, "Microsoft\\Windows\\CurrentVersion\\Policies\\Explorer", "NoDriveTypeAutoRun"
        )
    return Exposure(
        firewall=firewall,
        # fDenyTSConnections=1 (the default) keeps Remote Desktop off.
        rdp_enabled=deny == 0,
        # UserAuthentication=1 is Windows' default since Vista; only an explicit 0 turns NLA off.
        rdp_requires_nla=nla != 0,
        smb1_server=None if smb1 is None else bool(smb1),
        smb1_client_driver=services["mrxsmb10"] not in (None, "disabled"),
        services=services,
        autorun_disabled_drive_types=autorun,
        windows_update_disabled_by_policy=policy(
            "Microsoft\\Windows\\WindowsUpdate\\AU", "NoAutoUpdate"
        )
        == 1,
    )
