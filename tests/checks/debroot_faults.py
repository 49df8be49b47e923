"""The usual mistakes of a school's server, made by hand in a real Debian root (debroot.py).

Every fault is made by the tool an administrator would use, run in chroot: useradd, chpasswd,
usermod, passwd -d, apt-get install (from the .debs cached in the root), sed on sshd_config,
chmod. `plant` returns the (check id, resource) failures a careful auditor expects from them,
on top of whatever the stock installation already fails (test_debroot.py compares the two).
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

# The P2P client and the game installed with apt-get from the root's own archive.
P2P_CLIENT = "ctorrent"  # Section: net; only its description says BitTorrent
GAME = "sl"  # Section: games


def chroot(root: Path, *argv: str, stdin: str | None = None) -> None:
    done = subprocess.run(
        ["chroot", str(root), *argv],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive"},
    )
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} in chroot failed: {done.stderr[-1000:]}")


def _sed(root: Path, expression: str, path: str) -> None:
    chroot(root, "sed", "-i", expression, path)


def _key_fingerprint(root: Path, name: str) -> str:
    """A new ed25519 key made by ssh-keygen in the root; its SHA256 fingerprint."""
    chroot(root, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", f"/tmp/{name}")
    done = subprocess.run(
        ["chroot", str(root), "ssh-keygen", "-l", "-f", f"/tmp/{name}.pub"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()[1]


def plant(root: Path) -> tuple[set[tuple[str, str]], dict[str, dict[str, object]]]:
    """Make the mistakes in root; the failures they must cause, and the policy that judges
    them (the approved SSH key is known only once it is made)."""
    # A teacher's account with a password built from its own name, made an administrator.
    chroot(root, "useradd", "-m", "-s", "/bin/bash", "teacher")
    chroot(root, "chpasswd", stdin="teacher:teacher123\n")
    chroot(root, "usermod", "-aG", "sudo", "teacher")
    # A shared guest account with no password at all.
    chroot(root, "useradd", "-m", "-s", "/bin/bash", "guest")
    chroot(root, "passwd", "-d", "guest")
    # A second root: the classic backdoor.
    chroot(root, "useradd", "-o", "-u", "0", "-g", "0", "-M", "-s", "/bin/bash", "toor")
    # Software nobody approved, from the root's own apt archive (no network); and rsyslog with
    # logrotate, installed to keep logs, whose stock rules keep them four weeks. policy-rc.d
    # (invoke-rc.d's own switch for chroots) keeps the daemon from starting on this machine.
    policy_rc = root / "usr/sbin/policy-rc.d"
    policy_rc.write_text("#!/bin/sh\nexit 101\n")
    policy_rc.chmod(0o755)
    chroot(
        root,
        "apt-get",
        "install",
        "-y",
        "-q",
        "--no-download",
        P2P_CLIENT,
        GAME,
        "rsyslog",
        "logrotate",
    )
    policy_rc.unlink()
    # SSH opened up for convenience.
    _sed(root, "s/^#\\?PermitRootLogin .*/PermitRootLogin yes/", "/etc/ssh/sshd_config")
    _sed(root, "s/^#\\?PermitEmptyPasswords .*/PermitEmptyPasswords yes/", "/etc/ssh/sshd_config")
    # The shadow file made readable "to fix a script".
    chroot(root, "chmod", "644", "/etc/shadow")
    # The lab account may do anything with sudo, without a password.
    chroot(root, "useradd", "-m", "-s", "/bin/bash", "lab")
    chroot(root, "sh", "-c", "echo 'lab ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/lab")
    chroot(root, "chmod", "440", "/etc/sudoers.d/lab")
    chroot(root, "visudo", "-c")
    # A teacher's job that runs a script from /tmp; a root job whose script anyone may edit.
    chroot(root, "crontab", "-u", "teacher", "-", stdin="*/5 * * * * sh /tmp/sync.sh\n")
    chroot(root, "install", "-m", "777", "/dev/null", "/usr/local/bin/backup.sh")
    chroot(root, "sh", "-c", "echo '0 2 * * * root /usr/local/bin/backup.sh' > /etc/cron.d/backup")
    # The teacher's job logs where it cannot write, so the log was opened to everyone.
    chroot(root, "install", "-m", "666", "/dev/null", "/var/log/sync.log")
    # find made set-user-id "so the job can search everything": a root shell for anyone.
    chroot(root, "chmod", "u+s", "/usr/bin/find")
    # A teacher who left last year: the account, made long ago, never used, still there.
    chroot(root, "useradd", "-m", "-s", "/bin/bash", "former")
    long_ago = (datetime.now(UTC) - timedelta(days=400)).strftime("%Y-%m-%d")
    chroot(root, "chage", "-d", long_ago, "former")
    # An intern who last logged in over SSH 200 days ago (the record sshd leaves in wtmp).
    chroot(root, "useradd", "-m", "-s", "/bin/bash", "intern")
    when = (datetime.now(UTC) - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%S")
    record = (
        f"[7] [04242] [ts/0] [intern  ] [pts/0       ] [10.0.0.7            ] "
        f"[10.0.0.7       ] [{when},000000+00:00]\n"
    )
    chroot(root, "sh", "-c", "utmpdump -r >> /var/log/wtmp", stdin=record)
    # The new administrator's key is approved; the one who handed over left his on root.
    new_admin = _key_fingerprint(root, "new-admin")
    old_admin = _key_fingerprint(root, "old-admin")
    chroot(root, "install", "-d", "-m", "700", "/root/.ssh")
    chroot(
        root, "sh", "-c", "cat /tmp/new-admin.pub /tmp/old-admin.pub >> /root/.ssh/authorized_keys"
    )
    policy: dict[str, dict[str, object]] = {
        "ssh.authorized_keys": {"params": {"approved_keys": [new_admin]}}
    }
    return {
        ("ssh.authorized_keys", f"sshkey:root:{old_admin}"),
        ("accounts.weak_password", "user:teacher"),
        ("accounts.admin_members", "user:teacher"),
        ("accounts.empty_password", "user:guest"),
        ("accounts.uid0_extra", "user:toor"),
        ("accounts.duplicate_uid", "uid:0"),
        ("software.deny_list", f"package:{P2P_CLIENT}"),
        ("software.deny_list", f"package:{GAME}"),
        ("ssh.root_login", "service:sshd"),
        ("ssh.empty_passwords", "service:sshd"),
        ("files.account_file_permissions", "file:/etc/shadow"),
        ("jobs.unsafe_programs", "job:/var/spool/cron/crontabs/teacher:/tmp/sync.sh"),
        ("jobs.unsafe_programs", "job:/etc/cron.d/backup:/usr/local/bin/backup.sh"),
        ("accounts.sudo_rules", "sudo:lab"),
        ("files.world_writable", "file:/usr/local/bin/backup.sh"),
        ("logs.file_permissions", "file:/var/log/sync.log"),
        ("files.setid_programs", "file:/usr/bin/find"),
        ("logs.retention", "logrotate:/etc/logrotate.d/rsyslog"),  # Debian's four weeks
        ("accounts.unused", "user:former"),
        ("accounts.unused", "user:intern"),
    }, policy


# pam-auth-update profiles as CIS Debian Linux 12 (5.3.2.2, 5.3.2.4) writes them: pam_faillock
# around pam_unix in common-auth and common-account, pam_pwhistory in common-password.
PAM_PROFILES = {
    "faillock": "Name: Enable pam_faillock to deny access\nDefault: yes\nPriority: 0\n"
    "Auth-Type: Primary\nAuth:\n\t[default=die] pam_faillock.so authfail\n",
    "faillock_notify": "Name: Notify of failed login attempts and reset count upon success\n"
    "Default: yes\nPriority: 1024\nAuth-Type: Primary\nAuth:\n\trequisite pam_faillock.so "
    "preauth\nAccount-Type: Primary\nAccount:\n\trequired pam_faillock.so\n",
    "pwhistory": "Name: pwhistory password history checking\nDefault: yes\nPriority: 1024\n"
    "Password-Type: Primary\nPassword:\n\trequisite pam_pwhistory.so remember=24 "
    "enforce_for_root try_first_pass use_authtok\n",
}


def harden_pam(root: Path, deny: int) -> None:
    """Lockout and password history the way an administrator following CIS adds them."""
    for name, profile in PAM_PROFILES.items():
        (root / "usr/share/pam-configs" / name).write_text(profile)
    chroot(root, "pam-auth-update", "--enable", *PAM_PROFILES)
    _sed(root, f"s/^#\\? *deny = .*/deny = {deny}/", "/etc/security/faillock.conf")
