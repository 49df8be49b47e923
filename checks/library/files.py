"""Permissions of the files that hold accounts and password hashes."""

from __future__ import annotations

from typing import Any

from checks.facts import FileStat, PasswordState
from checks.factset import Facts
from checks.messages import say
from checks.model import Finding, Severity, Status

_SECRET_FILES = {"/etc/shadow", "/etc/gshadow"}
_SECRET_GROUPS = {"root", "shadow"}


def _problems(file: FileStat) -> list[str]:
    """The file's problems as the parts of its sentence's id (files.account_file_PARTS in
    checks/messages.py, one sentence per combination), in the order the sentence names them."""
    assert file.mode is not None
    problems = []
    if file.uid != 0:
        problems.append("owner")
    if file.path in _SECRET_FILES:
        if file.mode & 0o007:
            problems.append("world")
        if file.mode & 0o070 and file.gid != 0 and file.group not in _SECRET_GROUPS:
            problems.append("group")
        if file.mode & 0o020:
            problems.append("groupwrite")
    elif file.mode & 0o022:
        problems.append("otherwrite")
    return problems


def _hashes_in_passwd(facts: Facts) -> Finding | None:
    """Hashes moved into /etc/passwd (pwunconv) are readable by every account: fail loudly."""
    hashed = [u.name for u in facts.users if u.password_state is PasswordState.HASHED]
    passwd = next((f for f in facts.sensitive_files if f.path == "/etc/passwd"), None)
    if not hashed or passwd is None or passwd.mode is None or not passwd.mode & 0o004:
        return None
    return say(
        Status.FAIL,
        "file:/etc/passwd",
        "files.hashes_in_passwd",
        {"mode": f"{passwd.mode:04o}", "accounts": hashed},
        severity=Severity.CRITICAL,
        users=", ".join(hashed),
    )


def account_file_permissions(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    findings = []
    loud = _hashes_in_passwd(facts)
    if loud is not None:
        findings.append(loud)
    checked = []
    for file in facts.sensitive_files:
        if not file.exists or file.mode is None:
            continue
        checked.append(file.path)
        problems = _problems(file)
        if problems:
            findings.append(
                say(
                    Status.FAIL,
                    f"file:{file.path}",
                    f"files.account_file_{'_'.join(problems)}",
                    {
                        "mode": f"{file.mode:04o}",
                        "owner": file.owner or file.uid,
                        "group": file.group or file.gid,
                    },
                    path=file.path,
                    **({"owner": file.owner or file.uid} if "owner" in problems else {}),
                    **({"group": file.group or file.gid} if "group" in problems else {}),
                )
            )
    if findings:
        return findings
    return [say(Status.PASS, "host", "files.account_files_safe", {"files": checked})]


# Set-user-id and set-group-id programs that Debian/Ubuntu and the Red Hat family ship, by the
# path they have with merged /usr; anything else with those bits was put there by someone.
DISTRIBUTION_SETID = frozenset(
    {
        # shadow-utils, util-linux, sudo, PAM, OpenSSH, D-Bus, polkit (Debian and Red Hat)
        "/usr/bin/chage",
        "/usr/bin/chfn",
        "/usr/bin/chsh",
        "/usr/bin/expiry",
        "/usr/bin/gpasswd",
        "/usr/bin/newgrp",
        "/usr/bin/passwd",
        "/usr/bin/newgidmap",
        "/usr/bin/newuidmap",
        "/usr/bin/su",
        "/usr/bin/mount",
        "/usr/bin/umount",
        "/usr/bin/wall",
        "/usr/bin/write",
        "/usr/bin/bsd-write",
        "/usr/bin/sudo",
        "/usr/bin/pkexec",
        "/usr/bin/crontab",
        "/usr/bin/at",
        "/usr/bin/ssh-agent",
        "/usr/bin/fusermount",
        "/usr/bin/fusermount3",
        "/usr/bin/ntfs-3g",
        "/usr/bin/dotlockfile",
        "/usr/bin/plocate",
        "/usr/bin/locate",
        "/usr/bin/mlocate",
        "/usr/bin/staprun",
        "/usr/bin/ksu",
        "/usr/bin/Xorg",
        "/usr/bin/vmware-user-suid-wrapper",
        "/usr/sbin/unix_chkpwd",
        "/usr/sbin/pam_extrausers_chkpwd",
        "/usr/sbin/pam_timestamp_check",
        "/usr/sbin/userhelper",
        "/usr/sbin/usernetctl",
        "/usr/sbin/grub2-set-bootflag",
        "/usr/sbin/mount.nfs",
        "/usr/sbin/mount.cifs",
        "/usr/sbin/pppd",
        "/usr/sbin/postdrop",
        "/usr/sbin/postqueue",
        "/usr/sbin/exim4",
        "/usr/lib/openssh/ssh-keysign",
        "/usr/libexec/openssh/ssh-keysign",
        "/usr/lib/dbus-1.0/dbus-daemon-launch-helper",
        "/usr/libexec/dbus-1/dbus-daemon-launch-helper",
        "/usr/lib/policykit-1/polkit-agent-helper-1",
        "/usr/lib/polkit-1/polkit-agent-helper-1",
        "/usr/libexec/polkit-agent-helper-1",
        "/usr/lib/eject/dmcrypt-get-device",
        "/usr/lib/xorg/Xorg.wrap",
        "/usr/libexec/Xorg.wrap",
        "/usr/lib/x86_64-linux-gnu/utempter/utempter",
        "/usr/lib/aarch64-linux-gnu/utempter/utempter",
        "/usr/libexec/utempter/utempter",
        "/usr/lib/chromium/chrome-sandbox",
        "/usr/lib/snapd/snap-confine",
        "/usr/libexec/cockpit-session",
        "/usr/libexec/qemu-bridge-helper",
        "/usr/lib/qemu/qemu-bridge-helper",
        "/usr/lib/x86_64-linux-gnu/lxc/lxc-user-nic",
        "/usr/libexec/spice-gtk-x86_64/spice-client-glib-usb-acl-helper",
        "/usr/lib/spice-gtk/spice-client-glib-usb-acl-helper",
        # Ubuntu and older releases of both families
        "/usr/sbin/mount.ecryptfs_private",
        "/usr/bin/traceroute6.iputils",
        "/usr/bin/ping",
        "/usr/bin/ping6",
        "/usr/bin/screen",
        "/usr/bin/procmail",
        "/usr/bin/lppasswd",
        "/usr/bin/firejail",
        "/usr/sbin/seunshare",
        "/usr/sbin/sendmail.sendmail",
        "/usr/libexec/dbus-daemon-launch-helper",
    }
)
# Folders where anyone may write by design (sticky folders are not reported at all), and the
# logs, which logs.file_permissions judges.
_SCRATCH = ("/tmp/", "/var/tmp/", "/var/crash/", "/var/log/")


def _merged_usr(path: str) -> str:
    """/bin/su and /usr/bin/su are one file on a merged-/usr host; judge the /usr name."""
    top = path.split("/", 2)[1]
    return f"/usr{path}" if top in ("bin", "sbin", "lib", "lib64") else path


def world_writable(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    special = facts.special_files
    allowed = set(params["allowed"])
    findings = []
    for file in special.world_writable:
        if file.path.startswith(_SCRATCH) or file.path in allowed:
            continue
        kind = "folder" if file.is_dir else "file"
        findings.append(
            say(
                Status.FAIL,
                f"file:{file.path}",
                "files.world_writable_packaged" if file.package else "files.world_writable",
                {"mode": f"{file.mode:04o}", "uid": file.uid, "package": file.package},
                kind=kind,
                path=file.path,
                mode=f"{file.mode:04o}",
                **({"package": file.package} if file.package else {}),
            )
        )
    if findings:
        return findings
    return [say(Status.PASS, "host", "files.none_world_writable", {"walked": list(special.walked)})]


def setid_programs(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    special = facts.special_files
    allowed = {_merged_usr(p) for p in params["allowed"]}
    findings = []
    for file in special.setid:
        name = _merged_usr(file.path)
        known = name in DISTRIBUTION_SETID
        # A distribution's name with no package behind it is a replaced or planted copy.
        owned = file.package is not None or not special.packages_known
        if name in allowed or (known and owned):
            continue
        bits = " and ".join(
            what
            for bit, what in ((0o4000, "set-user-id"), (0o2000, "set-group-id"))
            if file.mode & bit
        )
        if known:
            why = "files.setid_unpackaged_distribution_name"
        elif file.package:
            why = "files.setid_not_distribution"
        else:
            why = "files.setid_unpackaged"
        findings.append(
            say(
                Status.FAIL,
                f"file:{file.path}",
                why,
                {"mode": f"{file.mode:04o}", "uid": file.uid, "package": file.package},
                path=file.path,
                bits=bits,
                uid=file.uid,
                mode=f"{file.mode:04o}",
                **({"package": file.package} if file.package and not known else {}),
            )
        )
    if findings:
        return findings
    return [
        say(
            Status.PASS,
            "host",
            "files.setid_all_distribution",
            {"programs": [f.path for f in special.setid]},
            count=len(special.setid),
        )
    ]
