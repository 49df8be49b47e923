"""The WiX source for wixl (docs/windows-deploy.md has the why of each part).

- every file in its own component, with a GUID derived from its install path (uuid5), so a
  major upgrade replaces exactly the files that changed;
- the service ``xunjian-agent`` (names.py): ``pythonw.exe -B -m agent.windows``, LocalSystem,
  auto start, stopped on upgrade and uninstall, removed on uninstall;
- wixl 0.101 has no ServiceConfig (delayed auto-start, recovery actions): the deferred custom
  action ``XunjianInstall`` (``pythonw.exe -m agent.windows install``, as LocalSystem, between
  InstallServices and StartServices) sets them, protects the state folder and stages the
  properties; its target is hidden from the log (HideTarget, MsiHiddenProperties: the token);
- ``XunjianRemoveState`` on an uninstall with REMOVESTATE=1 (never during an upgrade);
- what wixl drops or refuses (Chinese names, SecureCustomProperties, HideTarget, the custom
  action's place) set after it with msibuild (:func:`post_queries`);
- the Application event log source, pointing at pywin32's message DLL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from agent.windows import names

# Never change: Windows finds the installed agent to upgrade by it.
UPGRADE_CODE = "6E1B7C52-4D0F-4B8A-9E2C-58A1F3D7C901"
_COMPONENT_NAMESPACE = uuid.UUID(UPGRADE_CODE)
PRODUCT_NAME = "巡检 xunjian agent"
MANUFACTURER = "xunjian"
PUBLIC_PROPERTIES = ("SERVERURL", "TOKEN", "CASHA256", "REMOVESTATE")
SERVICE_ARGUMENTS = "-B -m agent.windows"
# The custom actions run python.exe through cmd.exe with its standard handles on NUL: a
# process msiexec starts may inherit standard handles that are not valid ones, and CPython
# then dies before any of our code runs ("init_sys_streams: can't initialize sys standard
# streams", seen under wine). cmd /c strips the outer pair of quotes. System64Folder: in
# a 64-bit package SystemFolder is SysWOW64, whose 32-bit cmd.exe a 64-bit-only wine lacks.
_PYTHON = '"[INSTALLDIR]python\\python.exe" -B -m agent.windows'
INSTALL_COMMAND = (
    f'"[System64Folder]cmd.exe" /c "{_PYTHON} install --server "[SERVERURL]" '
    '--token "[TOKEN]" --ca-sha256 "[CASHA256]" <NUL >NUL 2>&1"'
)
REMOVE_STATE_COMMAND = f'"[System64Folder]cmd.exe" /c "{_PYTHON} remove-state <NUL >NUL 2>&1"'
# Relative to the install folder (C:\Program Files\xunjian\agent).
PYTHON_EXE = "python/python.exe"
EVENT_MESSAGE_DLL = "python/Lib/site-packages/win32/servicemanager.pyd"


@dataclass(frozen=True)
class Entry:
    relative: str  # with "/" separators
    source: Path

    @property
    def ident(self) -> str:
        # Ids are at most 72 characters of [A-Za-z0-9_.]; a hash keeps them short and unique.
        return "f" + uuid.uuid5(_COMPONENT_NAMESPACE, self.relative.lower()).hex


def collect(root: Path) -> list[Entry]:
    """The files under ``root``; sources relative to its parent (wixl runs there, and takes
    only relative sources)."""
    return sorted(
        (Entry(path.relative_to(root).as_posix(), path.relative_to(root.parent))
         for path in root.rglob("*")
         if path.is_file()),
        key=lambda entry: entry.relative,
    )  # fmt: skip


def _directory_ids(entries: list[Entry]) -> dict[str, str]:
    folders = {""}
    for entry in entries:
        parts = entry.relative.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folders.add("/".join(parts[:depth]))
    return {
        folder: "INSTALLDIR" if not folder else "d" + uuid.uuid5(_COMPONENT_NAMESPACE, folder).hex
        for folder in folders
    }


def _component(entry: Entry, extra: str = "") -> str:
    guid = str(uuid.uuid5(_COMPONENT_NAMESPACE, "component:" + entry.relative.lower())).upper()
    return (
        f'<Component Id="c{entry.ident[1:]}" Guid="{guid}" Win64="yes">'
        f'<File Id="{entry.ident}" Source={quoteattr(str(entry.source))} KeyPath="yes"/>'
        f"{extra}</Component>"
    )


def _service_xml() -> str:
    return (
        f'<ServiceInstall Id="XunjianService" Name="{names.SERVICE_NAME}" '
        f'Type="ownProcess" Start="auto" Account="LocalSystem" ErrorControl="normal" '
        f'Arguments="{SERVICE_ARGUMENTS}" Vital="yes"/>'
        f'<ServiceControl Id="XunjianServiceControl" Name="{names.SERVICE_NAME}" Start="install" '
        f'Stop="both" Remove="uninstall" Wait="yes"/>'
    )


def _event_source_xml(message_dll: Entry) -> str:
    key = rf"SYSTEM\CurrentControlSet\Services\EventLog\Application\{names.EVENT_SOURCE}"
    return (
        f'<RegistryKey Root="HKLM" Key={quoteattr(key)}>'
        f'<RegistryValue Name="EventMessageFile" Type="string" Value="[#{message_dll.ident}]"/>'
        f'<RegistryValue Name="TypesSupported" Type="integer" Value="7"/>'
        f"</RegistryKey>"
    )


def _directories(ids: dict[str, str], components: dict[str, list[str]]) -> str:
    """The folder tree under INSTALLDIR with each folder's components inside it (wixl takes
    components only as children of their Directory)."""
    children: dict[str, list[str]] = {}
    for folder in ids:
        if folder:
            parent = folder.rsplit("/", 1)[0] if "/" in folder else ""
            children.setdefault(parent, []).append(folder)

    def render(folder: str) -> Iterator[str]:
        for child in sorted(children.get(folder, [])):
            name = child.rsplit("/", 1)[-1]
            yield f'<Directory Id="{ids[child]}" Name={quoteattr(name)}>'
            yield from components.get(child, [])
            yield from render(child)
            yield "</Directory>"

    return "".join([*components.get("", []), *render("")])


# The database's code page: Windows Installer has no UTF-8 databases (65001), and 936 (GBK) is
# the Chinese Simplified ANSI code page, which holds the product's and the service's names.
CODEPAGE = 936
# msidefs.h custom action type: an exe by its command line (34), deferred (0x400), as
# LocalSystem (0x800), and its target (with the token) kept out of the log (0x2000).
INSTALL_ACTION_TYPE = 34 | 0x400 | 0x800 | 0x2000
# The same, without HideTarget, and its failure ignored (0x40): an uninstall always finishes.
REMOVE_STATE_ACTION_TYPE = 34 | 0x400 | 0x800 | 0x40
# Between InstallServices (5800) and StartServices (5900): the service exists, not yet started.
INSTALL_ACTION_SEQUENCE = 5850


def _quote_sql(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def post_queries() -> list[str]:
    """SQL run on wixl's output (msibuild -q), for what wixl 0.101 drops or refuses:
    non-ASCII names (it writes them empty), a second SecureCustomProperties row (MajorUpgrade
    writes one), custom actions run by a command line in a folder (type 34; it drops
    ``Directory=`` actions) with HideTarget, and an action placed After InstallServices (it
    puts it after InstallFinalize)."""
    secure = ";".join(("WIX_DOWNGRADE_DETECTED", "WIX_UPGRADE_DETECTED", *PUBLIC_PROPERTIES))
    return [
        f"UPDATE `Property` SET `Value` = {_quote_sql(secure)} "
        "WHERE `Property` = 'SecureCustomProperties'",
        "INSERT INTO `Property` (`Property`, `Value`) VALUES ('MsiHiddenProperties', 'TOKEN')",
        f"UPDATE `Property` SET `Value` = {_quote_sql(PRODUCT_NAME)} "
        "WHERE `Property` = 'ProductName'",
        f"UPDATE `ServiceInstall` SET `DisplayName` = {_quote_sql(names.DISPLAY_NAME)}, "
        f"`Description` = {_quote_sql(names.DESCRIPTION)} "
        "WHERE `ServiceInstall` = 'XunjianService'",
        *(
            "INSERT INTO `CustomAction` (`Action`, `Type`, `Source`, `Target`) "
            f"VALUES ('{action}', {kind}, 'INSTALLDIR', {_quote_sql(command)})"
            for action, kind, command in (
                ("XunjianInstall", INSTALL_ACTION_TYPE, INSTALL_COMMAND),
                ("XunjianRemoveState", REMOVE_STATE_ACTION_TYPE, REMOVE_STATE_COMMAND),
            )
        ),
        f"UPDATE `InstallExecuteSequence` SET `Sequence` = {INSTALL_ACTION_SEQUENCE} "
        "WHERE `Action` = 'XunjianInstall'",
    ]


def codepage_idt() -> str:
    """The _ForceCodepage table msibuild imports before the names are written."""
    return f"\r\n\r\n{CODEPAGE}\t_ForceCodepage\r\n"


def product_code(version: str) -> str:
    """One product code per version (a major upgrade needs a new one; two builds of the same
    version share it, so ``msiexec /x`` with either removes what the other installed)."""
    return str(uuid.uuid5(_COMPONENT_NAMESPACE, "product:" + version)).upper()


def render(root: Path, version: str) -> str:
    """The .wxs for the staged install folder ``root``."""
    entries = collect(root)
    ids = _directory_ids(entries)
    by_path = {entry.relative: entry for entry in entries}
    python = by_path[PYTHON_EXE]
    message_dll = by_path[EVENT_MESSAGE_DLL]
    components: dict[str, list[str]] = {}
    for entry in entries:
        folder = entry.relative.rsplit("/", 1)[0] if "/" in entry.relative else ""
        extra = ""
        if entry is python:
            extra = _service_xml()
        elif entry is message_dll:
            extra = _event_source_xml(message_dll)
        components.setdefault(folder, []).append(_component(entry, extra))
    refs = "".join(f'<ComponentRef Id="c{entry.ident[1:]}"/>' for entry in entries)
    install_when = "NOT REMOVE"
    remove_when = 'REMOVE="ALL" AND REMOVESTATE="1" AND NOT UPGRADINGPRODUCTCODE'
    return f"""<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
<Product Id="{product_code(version)}" Name="xunjian agent" Language="1033"
  Version="{version}" Manufacturer="{MANUFACTURER}" UpgradeCode="{UPGRADE_CODE}">
<Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine"
  Description={quoteattr(PRODUCT_NAME)} Comments="SERVERURL, TOKEN, CASHA256; REMOVESTATE=1"/>
<MajorUpgrade DowngradeErrorMessage="A newer xunjian agent is already installed."/>
<Media Id="1" Cabinet="agent.cab" EmbedCab="yes"/>
<Directory Id="TARGETDIR" Name="SourceDir">
<Directory Id="ProgramFiles64Folder"><Directory Id="XunjianFolder" Name="xunjian">
<Directory Id="INSTALLDIR" Name="agent">{_directories(ids, components)}</Directory>
</Directory></Directory>
</Directory>
<InstallExecuteSequence>
<Custom Action="XunjianInstall" After="InstallServices">{install_when}</Custom>
<Custom Action="XunjianRemoveState" After="StopServices">{remove_when}</Custom>
</InstallExecuteSequence>
<Feature Id="Agent" Title="xunjian agent" Level="1">{refs}</Feature>
</Product>
</Wix>
"""
