"""`xunjian build windows-msi`'s MSI, read back with msitools (msiinfo): its files, the
service, the custom actions that do what wixl cannot, the upgrade code and the properties
(docs/windows-deploy.md). Builds the MSI once per session (~25 s)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.windows import names
from tests.msi.conftest import require_tool
from xunjian.msi import wxs

pytestmark = pytest.mark.integration


def table(msi: Path, name: str) -> list[dict[str, str]]:
    """One table as rows of column -> text (msiinfo export's IDT: names, types, key, rows)."""
    out = subprocess.run([require_tool("msiinfo"), "export", str(msi), name], check=True,
                         capture_output=True).stdout.decode("utf-8")  # fmt: skip
    lines = out.split("\r\n") if "\r\n" in out else out.split("\n")
    columns = lines[0].split("\t")
    return [dict(zip(columns, line.split("\t"), strict=False)) for line in lines[3:] if line]


def directory_paths(msi: Path) -> set[str]:
    """Every folder below INSTALLDIR as a path ("python/Lib/site-packages/win32")."""
    rows = {r["Directory"]: r for r in table(msi, "Directory")}

    def path(ident: str) -> str:
        row = rows[ident]
        if ident == "INSTALLDIR":
            return ""
        parent = path(row["Directory_Parent"]) if row["Directory_Parent"] in rows else "?"
        name = row["DefaultDir"].split("|")[-1]
        return f"{parent}/{name}" if parent else name

    return {p for p in map(path, rows) if not p.startswith("?")}


def test_the_name_says_version_and_architecture(built_msi: Path) -> None:
    assert built_msi.name == "xunjian-agent-0.1.0-x64.msi"
    info = subprocess.run([require_tool("msiinfo"), "suminfo", str(built_msi)], check=True,
                          capture_output=True, text=True).stdout  # fmt: skip
    assert "Template: x64;1033" in info


def test_the_files_are_the_runtime_the_agent_and_its_windows_dependencies(built_msi: Path) -> None:
    files = {row["FileName"].split("|")[-1].lower() for row in table(built_msi, "File")}
    # The runtime, the agent's own code, and what only a resolution for Windows brings.
    for name in ("python.exe", "pythonw.exe", "python311.dll", "python311.zip", "python311._pth",
                 "servicemanager.pyd", "pywintypes311.dll", "win32service.pyd",
                 "win32security.pyd", "_cffi_backend.cp311-win_amd64.pyd", "runner.py",
                 "scm.py", "webshell_signatures.txt"):  # fmt: skip
        assert name in files, name
    site = {path.split("/", 3)[-1] for path in directory_paths(built_msi)
            if path.startswith("python/Lib/site-packages/") and path.count("/") == 3}  # fmt: skip
    assert {"agent", "checks", "xunjian", "win32", "pywin32_system32"} <= site
    # The server is not shipped with the agent, nor pywin32's IDE.
    assert "server" not in site and "pythonwin" not in site
    # Every component is 64-bit (msidbComponentAttributes64bit).
    assert all(int(row["Attributes"]) & 256 for row in table(built_msi, "Component"))


def test_the_service_is_installed_as_localsystem_auto_start_and_controlled(
    built_msi: Path,
) -> None:
    (service,) = table(built_msi, "ServiceInstall")
    assert service["Name"] == names.SERVICE_NAME == "xunjian-agent"
    assert service["DisplayName"] == names.DISPLAY_NAME and "巡检" in service["DisplayName"]
    assert service["Description"] == names.DESCRIPTION
    assert service["ServiceType"] == "16"  # SERVICE_WIN32_OWN_PROCESS
    assert service["StartType"] == "2"  # SERVICE_AUTO_START (delayed: the custom action)
    assert service["StartName"] == "LocalSystem"
    assert service["Arguments"] == "-B -m agent.windows"
    # The binary is its component's key file.
    component = next(r for r in table(built_msi, "Component")
                     if r["Component"] == service["Component_"])  # fmt: skip
    key_file = next(r for r in table(built_msi, "File") if r["File"] == component["KeyPath"])
    assert key_file["FileName"].split("|")[-1] == "python.exe"
    (control,) = table(built_msi, "ServiceControl")
    # Start on install (1), stop on install (2) and uninstall (0x20), delete on uninstall (0x80).
    assert int(control["Event"]) == 1 | 2 | 0x20 | 0x80
    assert control["Wait"] == "1"


def test_recovery_delayed_start_and_enrollment_are_a_deferred_custom_action(
    built_msi: Path,
) -> None:
    actions = {row["Action"]: row for row in table(built_msi, "CustomAction")}
    install = actions["XunjianInstall"]
    # A command line (34) run in INSTALLDIR, deferred (0x400), as LocalSystem (0x800), its
    # target hidden from the log (0x2000): it carries the token.
    assert int(install["Type"]) == 34 | 0x400 | 0x800 | 0x2000
    assert install["Source"] == "INSTALLDIR"
    assert install["Target"] == (
        '"[System64Folder]cmd.exe" /c ""[INSTALLDIR]python\\python.exe" -B -m agent.windows '
        'install --server "[SERVERURL]" --token "[TOKEN]" --ca-sha256 "[CASHA256]" '
        '<NUL >NUL 2>&1"'
    )
    remove = actions["XunjianRemoveState"]
    # The same kind, its failure ignored (0x40): an uninstall always finishes.
    assert int(remove["Type"]) == 34 | 0x400 | 0x800 | 0x40
    assert "-m agent.windows remove-state" in remove["Target"]
    sequence = {row["Action"]: row for row in table(built_msi, "InstallExecuteSequence")}
    place = int(sequence["XunjianInstall"]["Sequence"])
    assert int(sequence["InstallServices"]["Sequence"]) < place
    assert place < int(sequence["StartServices"]["Sequence"])
    assert sequence["XunjianInstall"]["Condition"] == "NOT REMOVE"
    # The state folder goes only when asked, and never in the uninstall half of an upgrade.
    assert sequence["XunjianRemoveState"]["Condition"] == (
        'REMOVE="ALL" AND REMOVESTATE="1" AND NOT UPGRADINGPRODUCTCODE'
    )
    assert int(sequence["XunjianRemoveState"]["Sequence"]) < int(
        sequence["RemoveFiles"]["Sequence"]
    )


def test_major_upgrade_by_a_fixed_upgrade_code_and_secure_hidden_properties(
    built_msi: Path,
) -> None:
    properties = {row["Property"]: row["Value"] for row in table(built_msi, "Property")}
    assert properties["UpgradeCode"] == "{" + wxs.UPGRADE_CODE + "}"
    assert properties["ProductName"] == "巡检 xunjian agent"
    assert properties["ProductVersion"] == "0.1.0"
    # One product code per version: any build of it uninstalls another (msiexec /x file).
    assert properties["ProductCode"] == "{" + wxs.product_code("0.1.0") + "}"
    assert properties["ALLUSERS"] == "1"
    secure = properties["SecureCustomProperties"].split(";")
    assert {"SERVERURL", "TOKEN", "CASHA256", "REMOVESTATE", "WIX_UPGRADE_DETECTED"} <= set(secure)
    assert properties["MsiHiddenProperties"] == "TOKEN"
    upgrades = table(built_msi, "Upgrade")
    assert {row["UpgradeCode"] for row in upgrades} == {"{" + wxs.UPGRADE_CODE + "}"}
    assert {row["ActionProperty"] for row in upgrades} == {
        "WIX_UPGRADE_DETECTED", "WIX_DOWNGRADE_DETECTED"
    }  # fmt: skip
    sequence = {row["Action"] for row in table(built_msi, "InstallExecuteSequence")}
    assert {"RemoveExistingProducts", "FindRelatedProducts"} <= sequence


def test_the_event_log_source_is_registered_with_pywin32s_message_dll(built_msi: Path) -> None:
    rows = table(built_msi, "Registry")
    values = {row["Name"]: row for row in rows}
    key = r"SYSTEM\CurrentControlSet\Services\EventLog\Application" + "\\" + names.EVENT_SOURCE
    assert values["EventMessageFile"]["Key"].rstrip("\\") == key
    assert values["EventMessageFile"]["Root"] == "2"  # HKLM
    file_id = values["EventMessageFile"]["Value"][2:-1]  # [#id]
    (message_dll,) = [r for r in table(built_msi, "File") if r["File"] == file_id]
    assert message_dll["FileName"].split("|")[-1] == "servicemanager.pyd"
    assert values["TypesSupported"]["Value"] == "#7"
