"""pywin32 calls that save a locked hive (live.HiveSaver), used only on a running Windows.

Not run on the Linux machines this project is tested on: the order of these calls and the
clean-up on every path are tested through live.saved_hives with a fake saver; that the calls
themselves work as LocalSystem still needs a real Windows PC (docs/windows.md).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

from checks.errors import NoPrivilege

_ERROR_NOT_ALL_ASSIGNED = 1300


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
                raise NoPrivilege(
                    "saving the SAM needs SeBackupPrivilege: run the agent as LocalSystem"
                )
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
        import win32api
        import win32con

        key = win32api.RegOpenKeyEx(win32con.HKEY_LOCAL_MACHINE, name, 0, win32con.KEY_READ)
        try:
            win32api.RegSaveKey(key, str(target), None)
        finally:
            win32api.RegCloseKey(key)

    def remove_folder(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
