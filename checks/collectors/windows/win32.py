"""pywin32 calls that save a locked hive (live.HiveSaver) and list local accounts and the
password policy through the Net API (live.NetApi), used only on a running Windows.

Not run on the Linux machines this project is tested on: the order of these calls and the
clean-up on every path are tested through live.saved_hives with a fake saver; that the calls
themselves work as LocalSystem still needs a real Windows PC (docs/windows.md).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from checks.collectors.windows.live import HiveAbsent, NetApiUnavailable, SaveFailed
from checks.errors import CollectError, NoPrivilege
from checks.messages import said

_ERROR_NOT_ALL_ASSIGNED = 1300
_ERROR_FILE_NOT_FOUND = 2
_ADMINISTRATORS_SID = "S-1-5-32-544"
# NetUserEnum's filter: normal user accounts, not interdomain or machine trust accounts.
_FILTER_NORMAL_ACCOUNT = 0x0002
# MAX_PREFERRED_LENGTH (the API sizes its own pages) as pywin32's win32netcon has it: -1, its
# argument being a C long (0xFFFFFFFF raised OverflowError under wine).
_PREFERRED_LENGTH = -1
# ERROR_NOT_SUPPORTED, ERROR_CALL_NOT_IMPLEMENTED, ERROR_INVALID_LEVEL: a level this Windows
# does not offer.
_NOT_OFFERED = (50, 120, 124)
# wine answers NetUserModalsGet levels 0, 1 and 3 with NERR_InternalError ("not implemented").
_NERR_INTERNAL_ERROR = 2140


def is_wine() -> bool:
    """Wine's ntdll exports wine_get_version; Windows's does not."""
    import ctypes

    return hasattr(ctypes.WinDLL("ntdll"), "wine_get_version")  # type: ignore[attr-defined]


class Pywin32HiveSaver:
    def enable_backup_privilege(self) -> None:
        import win32api
        import win32con
        import win32security

        token = win32security.OpenProcessToken(
            win32api.GetCurrentProcess(), win32con.TOKEN_ADJUST_PRIVILEGES | win32con.TOKEN_QUERY
        )
        try:
            luid = win32security.LookupPrivilegeValue(None, win32security.SE_BACKUP_NAME)
            win32security.AdjustTokenPrivileges(
                token, False, [(luid, win32security.SE_PRIVILEGE_ENABLED)]
            )
            # AdjustTokenPrivileges "succeeds" without a privilege the token lacks; only the
            # last error tells.
            if win32api.GetLastError() == _ERROR_NOT_ALL_ASSIGNED:
                raise said(NoPrivilege, "windows.sam_needs_backup_privilege")
        finally:
            win32api.CloseHandle(token)

    def make_private_folder(self) -> Path:
        import ntsecuritycon
        import win32file
        import win32security

        system = win32security.CreateWellKnownSid(win32security.WinLocalSystemSid)
        dacl = win32security.ACL()
        dacl.AddAccessAllowedAceEx(
            win32security.ACL_REVISION,
            win32security.OBJECT_INHERIT_ACE | win32security.CONTAINER_INHERIT_ACE,
            ntsecuritycon.FILE_ALL_ACCESS,
            system,
        )
        descriptor = win32security.SECURITY_DESCRIPTOR()
        descriptor.SetSecurityDescriptorDacl(1, dacl, 0)
        # Protected: the temp folder's ACEs (Administrators, CREATOR OWNER) are not inherited.
        descriptor.SetSecurityDescriptorControl(
            win32security.SE_DACL_PROTECTED, win32security.SE_DACL_PROTECTED
        )
        attributes = win32security.SECURITY_ATTRIBUTES()
        attributes.SECURITY_DESCRIPTOR = descriptor
        # A fresh name each time: RegSaveKey refuses to overwrite, and no one can pre-plant it.
        folder = Path(tempfile.gettempdir()) / f"xunjian-hives-{uuid.uuid4().hex}"
        win32file.CreateDirectory(str(folder), attributes)
        return folder

    def save_key(self, name: str, target: Path) -> None:
        import pywintypes
        import win32api
        import win32con

        try:
            key = win32api.RegOpenKeyEx(win32con.HKEY_LOCAL_MACHINE, name, 0, win32con.KEY_READ)
            try:
                win32api.RegSaveKey(key, str(target), None)
            finally:
                win32api.RegCloseKey(key)
        except pywintypes.error as error:
            if error.winerror == _ERROR_FILE_NOT_FOUND:  # wine has no HKLM\SAM
                raise HiveAbsent(
                    f"this Windows has no HKEY_LOCAL_MACHINE\\{name} to save"
                    f"{' (wine)' if is_wine() else ''}"
                ) from None
            # The accounts then come from the Net API.
            raise SaveFailed(f"saving HKEY_LOCAL_MACHINE\\{name}: {error.strerror}") from None

    def remove_folder(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)


class Pywin32NetApi:
    """live.NetApi over pywin32's win32net for the local machine (server None)."""

    def _call(self, what: str, call: Any, *args: Any) -> Any:
        import pywintypes

        try:
            return call(*args)
        except pywintypes.error as error:
            if error.winerror in _NOT_OFFERED or (
                error.winerror == _NERR_INTERNAL_ERROR and is_wine()
            ):
                raise NetApiUnavailable(
                    f"{what} is not offered by this Windows{' (wine)' if is_wine() else ''}: "
                    f"{error.strerror} ({error.winerror})"
                ) from None
            raise CollectError(f"{what}: {error.strerror} ({error.winerror})") from None

    def _users(self, level: int) -> list[dict[str, Any]]:
        import win32net

        users: list[dict[str, Any]] = []
        resume = 0
        while True:  # pages until the resume handle comes back 0
            page, _total, resume = self._call(
                f"NetUserEnum level {level}",
                win32net.NetUserEnum,
                None,
                level,
                _FILTER_NORMAL_ACCOUNT,
                resume,
                _PREFERRED_LENGTH,
            )
            users.extend(page)
            if not resume:
                return users

    def users(self) -> list[dict[str, Any]]:
        try:
            return self._users(3)
        except NetApiUnavailable:
            # wine: levels 0 and 20 only; 20 still has the name, RID and flags.
            return self._users(20)

    def modals(self, level: int) -> dict[str, Any]:
        import win32net
        import win32security

        answer = dict(
            self._call(f"NetUserModalsGet level {level}", win32net.NetUserModalsGet, None, level)
        )
        if level == 2 and answer.get("domain_id") is not None:
            answer["domain_id"] = win32security.ConvertSidToStringSid(answer["domain_id"])
        return answer

    def administrator_sids(self) -> list[str]:
        import win32net
        import win32security

        # The group is named by the system's language (管理员组 ...): find its name by SID.
        sid = win32security.ConvertStringSidToSid(_ADMINISTRATORS_SID)
        name, _domain, _kind = self._call(
            "LookupAccountSid", win32security.LookupAccountSid, None, sid
        )
        # Level 0 gives SIDs, also of deleted domain accounts. Wine implements level 3 only
        # (the current user, by name) and leaves the buffer unset for the others, which pywin32
        # would read: there, level 3 and each name looked up.
        level = 3 if is_wine() else 0
        members: list[str] = []
        resume = 0
        while True:
            page, _total, resume = self._call(
                f"NetLocalGroupGetMembers level {level}",
                win32net.NetLocalGroupGetMembers,
                None,
                name,
                level,
                resume,
                _PREFERRED_LENGTH,
            )
            for entry in page:
                sid = (
                    entry["sid"]
                    if level == 0
                    else self._call(
                        "LookupAccountName",
                        win32security.LookupAccountName,
                        None,
                        entry["domainandname"],
                    )[0]
                )
                members.append(win32security.ConvertSidToStringSid(sid))
            if not resume:
                return members
