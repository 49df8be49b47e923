"""The state folder's ACL: SYSTEM and Administrators only, inheritance from the parent cut.

``%ProgramData%`` lets every user create and read folders below it, and the state folder holds
the agent's private key: so the service sets a protected DACL on it at every start (and the
installer's first start), with Administrators as owner, and reads it back. The ACEs are data
(:data:`STATE_FOLDER_ACES`); the Windows calls are behind :class:`SecurityApi`, so the rule is
tested on Linux and :class:`Win32SecurityApi` is the only part that needs Windows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("xunjian.agent.windows")

SYSTEM_SID = "S-1-5-18"
ADMINISTRATORS_SID = "S-1-5-32-544"
# winnt.h: FILE_ALL_ACCESS; OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE.
FILE_ALL_ACCESS = 0x001F01FF
INHERIT_TO_FILES_AND_FOLDERS = 0x1 | 0x2
# winnt.h: the security descriptor control bit of a DACL that does not inherit.
SE_DACL_PROTECTED = 0x1000


class AclError(Exception):
    """The state folder's ACL could not be set, or reads back other than it was set."""


@dataclass(frozen=True)
class Ace:
    """One access-allowed entry: who (a SID string), what (an access mask), inheritance flags."""

    sid: str
    mask: int
    flags: int


STATE_FOLDER_ACES: tuple[Ace, ...] = (
    Ace(SYSTEM_SID, FILE_ALL_ACCESS, INHERIT_TO_FILES_AND_FOLDERS),
    Ace(ADMINISTRATORS_SID, FILE_ALL_ACCESS, INHERIT_TO_FILES_AND_FOLDERS),
)


@dataclass(frozen=True)
class FolderAcl:
    owner: str
    protected: bool
    aces: tuple[Ace, ...]


class SecurityApi(Protocol):
    """The two Windows calls the rule needs (SetNamedSecurityInfo, GetNamedSecurityInfo).
    ``enforced`` is False only under wine, which keeps no Windows ACLs on files (the wine
    prefix's Unix permissions guard them there): a read-back that differs is then a warning,
    on Windows a refusal to start."""

    enforced: bool

    def set_protected_acl(self, path: Path, owner: str, aces: Sequence[Ace]) -> None: ...

    def read_acl(self, path: Path) -> FolderAcl: ...


def protect_state_folder(path: Path, api: SecurityApi) -> None:
    """Create ``path`` if needed and give it (and, by inheritance, everything in it) the
    state-folder ACL; raises :class:`AclError` when it does not read back exactly so."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        api.set_protected_acl(path, ADMINISTRATORS_SID, STATE_FOLDER_ACES)
        found = api.read_acl(path)
    except OSError as exc:
        raise AclError(f"setting the ACL of {path} failed: {exc}") from exc
    wanted = FolderAcl(ADMINISTRATORS_SID, True, STATE_FOLDER_ACES)
    if found != wanted:
        if not api.enforced:
            log.warning("%s: wine keeps no file ACLs; Unix permissions guard it", path)
            return
        raise AclError(f"the ACL of {path} reads back as {found}, not {wanted}")


def running_under_wine() -> bool:
    """Wine's ntdll exports wine_get_version; Windows' does not (and only an administrator
    could replace ntdll, who needs no trick to read the state folder)."""
    import ctypes

    try:
        return hasattr(ctypes.WinDLL("ntdll"), "wine_get_version")  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return False


class Win32SecurityApi:
    """:class:`SecurityApi` through pywin32 (Windows only; imported on first use)."""

    def __init__(self) -> None:
        import pywintypes
        import win32security

        self._security: Any = win32security
        self._error: type[Exception] = pywintypes.error
        self.enforced = not running_under_wine()

    def set_protected_acl(self, path: Path, owner: str, aces: Sequence[Ace]) -> None:
        ws = self._security
        dacl = ws.ACL()
        for ace in aces:
            dacl.AddAccessAllowedAceEx(
                ws.ACL_REVISION, ace.flags, ace.mask, ws.ConvertStringSidToSid(ace.sid)
            )
        info = (
            ws.OWNER_SECURITY_INFORMATION
            | ws.DACL_SECURITY_INFORMATION
            | ws.PROTECTED_DACL_SECURITY_INFORMATION
        )
        try:
            # Propagates the inheritable entries to files already there (an upgrade's spool).
            ws.SetNamedSecurityInfo(
                str(path), ws.SE_FILE_OBJECT, info, ws.ConvertStringSidToSid(owner), None, dacl,
                None,
            )  # fmt: skip
        except self._error as exc:
            raise OSError(f"SetNamedSecurityInfo: {exc}") from exc

    def read_acl(self, path: Path) -> FolderAcl:
        ws = self._security
        try:
            descriptor = ws.GetNamedSecurityInfo(
                str(path), ws.SE_FILE_OBJECT,
                ws.OWNER_SECURITY_INFORMATION | ws.DACL_SECURITY_INFORMATION,
            )  # fmt: skip
        except self._error as exc:
            raise OSError(f"GetNamedSecurityInfo: {exc}") from exc
        control, _revision = descriptor.GetSecurityDescriptorControl()
        dacl = descriptor.GetSecurityDescriptorDacl()
        aces = []
        for index in range(dacl.GetAceCount() if dacl is not None else 0):
            (_type, flags), mask, sid = dacl.GetAce(index)
            aces.append(Ace(ws.ConvertSidToStringSid(sid), mask, flags))
        return FolderAcl(
            ws.ConvertSidToStringSid(descriptor.GetSecurityDescriptorOwner()),
            bool(control & SE_DACL_PROTECTED),
            tuple(aces),
        )
