"""Fact-table cases for the checks of the full Linux library (issue #6); merged into CASES."""

from __future__ import annotations

from checks.errors import NoPrivilege, NotApplicable
from checks.facts import (
    AuthorizedKey,
    DesktopSettings,
    FactName,
    Firewall,
    InstalledPackage,
    JobProgram,
    Kernels,
    LogRotation,
    LogSetup,
    MacState,
    PamHistory,
    PamLockout,
    PasswordState,
    ScheduledJob,
    SpecialFile,
    SpecialFiles,
    SudoRule,
    TimeSync,
    WeakPassword,
    WeakPasswords,
)
from tests.checks import facts_tables as t
from tests.checks.case import Case

F = FactName
PS = PasswordState
ROOT = t.user("root", 0)
ALICE = t.user("alice", 1000)
BOB = t.user("bob", 1001)
DEFS = t.login_defs()
NO_WEAK = WeakPasswords((), ("root", "alice"), 60, ())
LOG = "/var/log/clamav/clamscan.log"
NOTHING_RUNS = (t.process(1, "systemd", "/usr/lib/systemd/systemd"),)
CLAM_RUNS = (*NOTHING_RUNS, t.process(300, "clamd"), t.process(301, "freshclam"))
ETH0 = t.interface("eth0", "52:54:00:12:34:56", "10.1.2.3")
LO = t.interface("lo", "00:00:00:00:00:00", "127.0.0.1")
SHADOW_DAYS = t.TODAY_DAYS

OLD_ADMIN_KEY = AuthorizedKey(
    "root", "/root/.ssh/authorized_keys", "ssh-ed25519", "SHA256:old", "li@pc"
)
NEW_ADMIN_KEY = AuthorizedKey(
    "root", "/root/.ssh/authorized_keys", "ssh-ed25519", "SHA256:new", "wang"
)
ALICE_KEY = AuthorizedKey("alice", "/home/alice/.ssh/authorized_keys", "ssh-rsa", "SHA256:a", "")
SUDO = t.group("sudo", 27, "alice")

SAFE_SCRIPT = JobProgram("/usr/local/sbin/backup", True, 0o755, 0, 0)
TMP_SCRIPT = JobProgram("/tmp/x.sh", False, None, None, None)
OPEN_SCRIPT = JobProgram("/srv/job.sh", True, 0o777, 0, 0)
ALICES_SCRIPT = JobProgram("/home/alice/job.sh", True, 0o755, 1000, 1000)

COMMON_AUTH = ("/etc/pam.d/common-auth",)
COMMON_PASSWORD = ("/etc/pam.d/common-password",)
FAILLOCK = "pam_faillock.so"


def _lockout(module: str | None, deny: int | None, unlock: int | None = 900) -> PamLockout:
    return PamLockout(module, deny, unlock, COMMON_AUTH, COMMON_AUTH if module else ())


def _history(module: str | None, remember: int) -> PamHistory:
    return PamHistory(module, remember, COMMON_PASSWORD, COMMON_PASSWORD if module else ())


RSYSLOG_FILES = ("/var/log/syslog", "/var/log/auth.log")
DEBIAN_ROTATION = LogRotation("/etc/logrotate.d/rsyslog", RSYSLOG_FILES, 7.0, 4, None)
HALF_YEAR = LogRotation("/etc/logrotate.d/rsyslog", RSYSLOG_FILES, 7.0, 26, None)
BY_SIZE = LogRotation("/etc/logrotate.d/rsyslog", ("/var/log/*.log",), None, 9, None)
OTHER = LogRotation("/etc/logrotate.d/apt", ("/var/log/apt/term.log",), 30.0, 12, None)


def _logs(
    syslog: bool = False,
    storage: str | None = None,
    journal_dir: bool = False,
    max_days: float | None = None,
    rotations: tuple[LogRotation, ...] = (),
) -> LogSetup:
    return LogSetup(
        journald_installed=storage is not None,
        journald_storage=storage,
        journal_dir_exists=journal_dir,
        journald_max_retention_days=max_days,
        syslog_daemons=("rsyslog",) if syslog else (),
        syslog_files=RSYSLOG_FILES if syslog else (),
        rotations=rotations,
    )


def _special(
    writable: tuple[SpecialFile, ...] = (), setid: tuple[SpecialFile, ...] = ()
) -> SpecialFiles:
    return SpecialFiles(writable, setid, ("/usr", "/etc", "/var"), True)


SU = SpecialFile("/usr/bin/su", 0o4755, False, 0, 0, "util-linux")
FIND_SUID = SpecialFile("/usr/bin/find", 0o4755, False, 0, 0, "findutils")
HIDDEN_SHELL = SpecialFile("/usr/local/bin/.sh", 0o4755, False, 0, 0, None)
FAKE_PASSWD = SpecialFile("/bin/passwd", 0o4755, False, 0, 0, None)
OPEN_SCRIPT_FILE = SpecialFile("/usr/local/bin/backup.sh", 0o777, False, 0, 0, None)
OPEN_LOG = SpecialFile("/var/log/lab.log", 0o666, False, 0, 0, None)
TMP_FILE = SpecialFile("/tmp/x", 0o666, False, 1000, 1000, None)

GNOME_DEFAULTS = {
    "org.gnome.desktop.session idle-delay": "300",
    "org.gnome.desktop.screensaver lock-enabled": "true",
    "org.gnome.desktop.screensaver lock-delay": "0",
    "org.gnome.desktop.media-handling automount": "true",
    "org.gnome.desktop.media-handling automount-open": "true",
}


def _desktop(desktops: tuple[str, ...] = ("GNOME",), **changed: str) -> DesktopSettings:
    values = dict(GNOME_DEFAULTS)
    for key, value in changed.items():
        name = next(k for k in values if k.endswith(key.replace("_", "-")))
        values[name] = value
    return DesktopSettings(desktops, bool(desktops), values, {}, ())


MORE_CASES: dict[str, list[Case]] = {
    "services.screen_lock": [
        Case(
            "GNOME's default", {F.DESKTOP_SETTINGS: _desktop()}, {("pass", "desktop:screen_lock")}
        ),
        Case(
            "never idle",
            {F.DESKTOP_SETTINGS: _desktop(idle_delay="0")},
            {("fail", "desktop:screen_lock")},
        ),
        Case(
            "no lock",
            {F.DESKTOP_SETTINGS: _desktop(lock_enabled="false")},
            {("fail", "desktop:screen_lock")},
        ),
        Case(
            "too late",
            {F.DESKTOP_SETTINGS: _desktop(idle_delay="900", lock_delay="60")},
            {("fail", "desktop:screen_lock")},
        ),
        Case("server", {F.DESKTOP_SETTINGS: _desktop(())}, {("not_applicable", "host")}),
        Case(
            "not GNOME",
            {F.DESKTOP_SETTINGS: DesktopSettings(("Xfce",), False, {}, {}, ())},
            {("not_applicable", "host")},
        ),
    ],
    "services.media_automount": [
        Case("GNOME's default", {F.DESKTOP_SETTINGS: _desktop()}, {("fail", "desktop:automount")}),
        Case(
            "off",
            {F.DESKTOP_SETTINGS: _desktop(automount="false", automount_open="false")},
            {("pass", "desktop:automount")},
        ),
        Case("server", {F.DESKTOP_SETTINGS: _desktop(())}, {("not_applicable", "host")}),
    ],
    "logs.persistent": [
        Case("rsyslog", {F.LOG_SETUP: _logs(syslog=True)}, {("pass", "host")}),
        Case("journal", {F.LOG_SETUP: _logs(storage="persistent")}, {("pass", "host")}),
        Case(
            "auto with dir",
            {F.LOG_SETUP: _logs(storage="auto", journal_dir=True)},
            {("pass", "host")},
        ),
        Case("auto, no dir", {F.LOG_SETUP: _logs(storage="auto")}, {("fail", "host")}),
        Case(
            "volatile",
            {F.LOG_SETUP: _logs(storage="volatile", journal_dir=True)},
            {("fail", "host")},
        ),
        Case("nothing", {F.LOG_SETUP: _logs()}, {("fail", "host")}),
    ],
    "logs.retention": [
        Case(
            "Debian's four weeks",
            {F.LOG_SETUP: _logs(syslog=True, rotations=(DEBIAN_ROTATION, OTHER))},
            {("fail", "logrotate:/etc/logrotate.d/rsyslog")},
        ),
        Case(
            "26 weeks",
            {F.LOG_SETUP: _logs(syslog=True, rotations=(HALF_YEAR,))},
            {("pass", "logrotate:/etc/logrotate.d/rsyslog")},
        ),
        Case(
            "by size",
            {F.LOG_SETUP: _logs(syslog=True, rotations=(BY_SIZE,))},
            {("fail", "logrotate:/etc/logrotate.d/rsyslog")},
        ),
        Case("never rotated", {F.LOG_SETUP: _logs(syslog=True)}, {("pass", "host")}),
        Case(
            "journal aged out",
            {F.LOG_SETUP: _logs(storage="persistent", max_days=30)},
            {("fail", "journal:journald")},
        ),
        Case(
            "rsyslog keeps what a short journal drops",
            {
                F.LOG_SETUP: _logs(
                    syslog=True, storage="persistent", max_days=30, rotations=(HALF_YEAR,)
                )
            },
            {("pass", "logrotate:/etc/logrotate.d/rsyslog")},
        ),
        Case(
            "journal by size",
            {F.LOG_SETUP: _logs(storage="persistent")},
            {("pass", "journal:journald")},
        ),
        Case("nothing on disk", {F.LOG_SETUP: _logs()}, {("not_applicable", "host")}),
    ],
    "logs.file_permissions": [
        Case(
            "clean", {F.SPECIAL_FILES: _special((TMP_FILE, OPEN_SCRIPT_FILE))}, {("pass", "host")}
        ),
        Case(
            "open log",
            {F.SPECIAL_FILES: _special((OPEN_LOG,))},
            {("fail", "file:/var/log/lab.log")},
        ),
    ],
    "files.world_writable": [
        Case("scratch only", {F.SPECIAL_FILES: _special((TMP_FILE, OPEN_LOG))}, {("pass", "host")}),
        Case(
            "open script",
            {F.SPECIAL_FILES: _special((OPEN_SCRIPT_FILE,))},
            {("fail", "file:/usr/local/bin/backup.sh")},
        ),
        Case(
            "approved",
            {F.SPECIAL_FILES: _special((OPEN_SCRIPT_FILE,))},
            {("pass", "host")},
            {"allowed": ["/usr/local/bin/backup.sh"]},
        ),
    ],
    "files.setid_programs": [
        Case("su", {F.SPECIAL_FILES: _special(setid=(SU,))}, {("pass", "host")}),
        Case(
            "find made set-user-id",
            {F.SPECIAL_FILES: _special(setid=(SU, FIND_SUID))},
            {("fail", "file:/usr/bin/find")},
        ),
        Case(
            "a hidden shell",
            {F.SPECIAL_FILES: _special(setid=(HIDDEN_SHELL,))},
            {("fail", "file:/usr/local/bin/.sh")},
        ),
        Case(
            "a passwd no package ships",
            {F.SPECIAL_FILES: _special(setid=(FAKE_PASSWD,))},
            {("fail", "file:/bin/passwd")},
        ),
        Case(
            "approved",
            {F.SPECIAL_FILES: _special(setid=(HIDDEN_SHELL,))},
            {("pass", "host")},
            {"allowed": ["/usr/local/bin/.sh"]},
        ),
    ],
    "password.lockout": [
        Case(
            "faillock deny=5", {F.PAM_LOCKOUT: _lockout(FAILLOCK, 5)}, {("pass", "policy:lockout")}
        ),
        Case(
            "admin unlocks",
            {F.PAM_LOCKOUT: _lockout(FAILLOCK, 3, 0)},
            {("pass", "policy:lockout")},
        ),
        Case("no module", {F.PAM_LOCKOUT: _lockout(None, None)}, {("fail", "policy:lockout")}),
        Case("never locks", {F.PAM_LOCKOUT: _lockout(FAILLOCK, 0)}, {("fail", "policy:lockout")}),
        Case(
            "too many tries",
            {F.PAM_LOCKOUT: _lockout(FAILLOCK, 5)},
            {("fail", "policy:lockout")},
            {"max_attempts": 4},
        ),
        Case(
            "no PAM at all",
            {F.PAM_LOCKOUT: PamLockout(None, None, None, (), ())},
            {("not_applicable", "host")},
        ),
    ],
    "password.history": [
        Case(
            "pwhistory default",
            {F.PAM_HISTORY: _history("pam_pwhistory.so", 10)},
            {("pass", "policy:history")},
        ),
        Case(
            "pam_unix remember",
            {F.PAM_HISTORY: _history("pam_unix.so", 5)},
            {("pass", "policy:history")},
        ),
        Case("none", {F.PAM_HISTORY: _history(None, 0)}, {("fail", "policy:history")}),
        Case(
            "too few",
            {F.PAM_HISTORY: _history("pam_pwhistory.so", 2)},
            {("fail", "policy:history")},
        ),
        Case(
            "no PAM at all",
            {F.PAM_HISTORY: PamHistory(None, 0, (), ())},
            {("not_applicable", "host")},
        ),
    ],
    "system.mandatory_access_control": [
        Case("AppArmor", {F.MAC_STATE: MacState(True, True, None)}, {("pass", "host")}),
        Case("AppArmor on a tree", {F.MAC_STATE: MacState(True, None, None)}, {("pass", "host")}),
        Case("kernel has it off", {F.MAC_STATE: MacState(True, False, None)}, {("fail", "host")}),
        Case(
            "SELinux enforcing",
            {F.MAC_STATE: MacState(False, None, "enforcing")},
            {("pass", "host")},
        ),
        Case(
            "SELinux permissive",
            {F.MAC_STATE: MacState(False, None, "permissive")},
            {("fail", "host")},
        ),
        Case("nothing", {F.MAC_STATE: MacState(False, None, None)}, {("fail", "host")}),
    ],
    "network.time_sync": [
        Case(
            "timesyncd",
            {F.TIME_SYNC: TimeSync(("systemd-timesyncd.service",), ("systemd-timesyncd.service",))},
            {("pass", "host")},
        ),
        Case("none", {F.TIME_SYNC: TimeSync((), ("chrony.service",))}, {("fail", "host")}),
    ],
    "accounts.sudo_rules": [
        Case(
            "Debian's stock sudoers",
            {
                F.USERS: (ROOT, ALICE),
                F.GROUPS: (t.group("sudo", 27, "alice"),),
                F.SUDO_RULES: (
                    SudoRule("/etc/sudoers", "root", True, False),
                    SudoRule("/etc/sudoers", "%sudo", True, False),
                ),
            },
            {("pass", "host")},
        ),
        Case(
            "NOPASSWD for an account, ALL for a non-admin group",
            {
                F.USERS: (ROOT, ALICE, BOB),
                F.GROUPS: (t.group("staff", 50, "bob"),),
                F.SUDO_RULES: (
                    SudoRule("/etc/sudoers.d/lab", "alice", False, True),
                    SudoRule("/etc/sudoers.d/staff", "%staff", True, False),
                    SudoRule("/etc/sudoers.d/ok", "alice", False, False),
                ),
            },
            {("fail", "sudo:alice"), ("fail", "sudo:bob")},
        ),
    ],
    "jobs.unsafe_programs": [
        Case(
            "root runs a root-owned script; alice her own",
            {
                F.USERS: (ROOT, ALICE),
                F.SCHEDULED_JOBS: (
                    ScheduledJob("/etc/cron.d/b", "root", "/usr/local/sbin/backup", (SAFE_SCRIPT,)),
                    ScheduledJob("/var/spool/cron/crontabs/alice", "alice", "x", (ALICES_SCRIPT,)),
                ),
            },
            {("pass", "host")},
        ),
        Case(
            "from /tmp, world-writable, and root running alice's file",
            {
                F.USERS: (ROOT, ALICE),
                F.SCHEDULED_JOBS: (
                    ScheduledJob("/etc/crontab", "root", "sh /tmp/x.sh", (TMP_SCRIPT,)),
                    ScheduledJob("/etc/cron.d/s", "root", "/srv/job.sh", (OPEN_SCRIPT,)),
                    ScheduledJob("/etc/cron.d/a", "root", "x", (ALICES_SCRIPT,)),
                ),
            },
            {
                ("fail", "job:/etc/crontab:/tmp/x.sh"),
                ("fail", "job:/etc/cron.d/s:/srv/job.sh"),
                ("fail", "job:/etc/cron.d/a:/home/alice/job.sh"),
            },
        ),
        Case(
            "unreadable spool",
            {F.USERS: (ROOT,), F.SCHEDULED_JOBS: NoPrivilege("/var/spool/cron is not readable")},
            {("no_privilege", "host")},
        ),
    ],
    "ssh.authentication": [
        Case(
            "OpenSSH defaults: six tries",
            {F.SSHD_CONFIG: t.sshd()},
            {("pass", "ssh:PasswordAuthentication"), ("fail", "ssh:MaxAuthTries")},
        ),
        Case(
            "hardened",
            {F.SSHD_CONFIG: t.sshd(MaxAuthTries="3", PasswordAuthentication="no")},
            {("pass", "ssh:PasswordAuthentication"), ("pass", "ssh:MaxAuthTries")},
            {"password_authentication_allowed": False},
        ),
        Case(
            "passwords where the policy wants keys only",
            {F.SSHD_CONFIG: t.sshd(MaxAuthTries="4", PasswordAuthentication="yes")},
            {("fail", "ssh:PasswordAuthentication"), ("pass", "ssh:MaxAuthTries")},
            {"password_authentication_allowed": False},
        ),
    ],
    "ssh.authorized_keys": [
        Case(
            "no keys",
            {F.AUTHORIZED_KEYS: (), F.USERS: (ROOT, ALICE), F.GROUPS: (SUDO,)},
            {("pass", "host")},
        ),
        Case(
            "keys but no approved list",
            {F.AUTHORIZED_KEYS: (OLD_ADMIN_KEY,), F.USERS: (ROOT, ALICE), F.GROUPS: (SUDO,)},
            {("not_applicable", "host")},
        ),
        Case(
            "the old administrator's key is still on root; a sudoer's unapproved key",
            {
                F.AUTHORIZED_KEYS: (OLD_ADMIN_KEY, NEW_ADMIN_KEY, ALICE_KEY),
                F.USERS: (ROOT, ALICE, BOB),
                F.GROUPS: (SUDO,),
            },
            {("fail", "sshkey:root:SHA256:old"), ("fail", "sshkey:alice:SHA256:a")},
            {"approved_keys": ["SHA256:new"]},
        ),
        Case(
            "a key of an ordinary account is not judged",
            {
                F.AUTHORIZED_KEYS: (NEW_ADMIN_KEY, ALICE_KEY),
                F.USERS: (ROOT, ALICE),
                F.GROUPS: (t.group("sudo", 27),),
            },
            {("pass", "host")},
            {"approved_keys": ["SHA256:new"]},
        ),
    ],
    "accounts.weak_password": [
        Case("none weak", {F.WEAK_PASSWORDS: {"": NO_WEAK}}, {("pass", "host")}),
        Case(
            "an agent's first scan, yescrypt tried in part",
            {
                F.WEAK_PASSWORDS: {
                    "": WeakPasswords((), ("root", "alice"), 60, (), (("alice", 10),))
                }
            },
            {("pass", "host")},
        ),
        Case(
            "an organisation word, asked for under the words' key",
            {
                F.WEAK_PASSWORDS: {
                    "yizhong\nYZ": WeakPasswords(
                        (WeakPassword("teacher", "organisation word"),), ("teacher",), 116, ()
                    )
                }
            },
            {("fail", "user:teacher")},
            {"organisation_words": [" yizhong", "YZ", "yizhong"]},
        ),
        Case(
            "vendor default and own name",
            {
                F.WEAK_PASSWORDS: {
                    "": WeakPasswords(
                        (
                            WeakPassword("pi", "vendor default"),
                            WeakPassword("bob", "same as the account name"),
                        ),
                        ("pi", "bob", "alice"),
                        60,
                        (),
                    )
                }
            },
            {("fail", "user:pi"), ("fail", "user:bob")},
        ),
        Case(
            "scheme the library cannot compute is an error, not a pass",
            {F.WEAK_PASSWORDS: {"": WeakPasswords((), ("old",), 60, ("old",))}},
            {("error", "user:old")},
        ),
        Case(
            "shadow unreadable",
            {F.WEAK_PASSWORDS: {"": NoPrivilege("/etc/shadow is not readable by this account")}},
            {("no_privilege", "host")},
        ),
    ],
    "accounts.password_changed_since_handover": [
        Case(
            "no dates",
            {F.SHADOW: (t.shadow("root", age_days=5000),)},
            {("not_applicable", "host")},
        ),
        Case(
            "changed after go-live",
            {F.SHADOW: (t.shadow("root", age_days=10), t.shadow("alice", age_days=20))},
            {("pass", "host")},
            {"go_live_date": "2026-10-01"},
        ),
        Case(
            "installer password kept; the later of the two dates counts",
            {
                F.SHADOW: (
                    t.shadow("root", age_days=100),
                    t.shadow("alice", age_days=10),
                    t.shadow("forced", age_days=None),
                    t.shadow("locked", PS.NO_PASSWORD_LOGIN, age_days=900),
                )
            },
            {("fail", "user:root"), ("fail", "user:forced")},
            {"go_live_date": "2025-01-01", "handover_date": "2026-09-01"},
        ),
        Case(
            "only named accounts",
            {F.SHADOW: (t.shadow("root", age_days=100), t.shadow("alice", age_days=100))},
            {("fail", "user:alice")},
            {"handover_date": "2026-09-01", "accounts": ["alice"]},
        ),
        Case(
            "bad date",
            {F.SHADOW: (t.shadow("root"),)},
            {("error", "host")},
            {"go_live_date": "01/09/2026"},
        ),
    ],
    "accounts.admin_members": [
        Case(
            "no list",
            {F.USERS: (ROOT, ALICE), F.GROUPS: (t.group("sudo", 27, "alice"),)},
            {("not_applicable", "host")},
        ),
        Case(
            "approved",
            {F.USERS: (ROOT, ALICE), F.GROUPS: (t.group("sudo", 27, "alice"),)},
            {("pass", "host")},
            {"approved_admins": ["alice"]},
        ),
        Case(
            "member and primary group",
            {
                F.USERS: (ROOT, ALICE, BOB, t.user("wheelie", 27)),
                F.GROUPS: (t.group("sudo", 27, "alice", "bob"), t.group("wheel", 10, "carl")),
            },
            {("fail", "user:bob"), ("fail", "user:carl"), ("fail", "user:wheelie")},
            {"approved_admins": ["alice"]},
        ),
    ],
    "accounts.unused": [
        Case(
            "recent logins",
            {
                F.USERS: (ROOT, ALICE),
                F.LOGIN_DEFS: DEFS,
                F.SHADOW: (t.shadow("alice", age_days=200),),
                F.LAST_LOGINS: t.logins(alice=3, root=1),
                F.CLOCK: t.CLOCK,
            },
            {("pass", "host")},
        ),
        Case(
            "idle, never used, new account spared",
            {
                F.USERS: (
                    ROOT,
                    ALICE,
                    BOB,
                    t.user("newbie", 1002),
                    t.user("svc", 1003, "/usr/sbin/nologin"),
                ),
                F.LOGIN_DEFS: DEFS,
                F.SHADOW: (t.shadow("bob", age_days=400), t.shadow("newbie", age_days=5)),
                F.LAST_LOGINS: t.logins(alice=120),
                F.CLOCK: t.CLOCK,
            },
            {("fail", "user:alice"), ("fail", "user:bob")},
        ),
        Case(
            "exempt and shorter limit",
            {
                F.USERS: (ROOT, ALICE, BOB),
                F.LOGIN_DEFS: DEFS,
                F.SHADOW: NoPrivilege("/etc/shadow is not readable"),
                F.LAST_LOGINS: t.logins(alice=40, bob=10),
                F.CLOCK: t.CLOCK,
            },
            {("fail", "user:alice")},
            {"max_unused_days": 30, "exempt": ["bob"]},
        ),
        Case(
            "no login records",
            {
                F.USERS: (ROOT, ALICE),
                F.LOGIN_DEFS: DEFS,
                F.SHADOW: (),
                F.LAST_LOGINS: t.logins(sources=()),
                F.CLOCK: t.CLOCK,
            },
            {("not_applicable", "host")},
        ),
    ],
    "accounts.added_since_baseline": [
        Case("no baseline", {F.USERS: (ROOT, ALICE)}, {("not_applicable", "host")}),
        Case(
            "same",
            {F.USERS: (ROOT, ALICE)},
            {("pass", "host")},
            {"baseline": ["root", "alice", "bob"]},
        ),
        Case(
            "system account added too",
            {F.USERS: (ROOT, ALICE, t.user("sshd2", 120, "/bin/sh"))},
            {("fail", "user:sshd2")},
            {"baseline": ["root", "alice"]},
        ),
    ],
    "antivirus.installed": [
        Case(
            "ClamAV running",
            {F.ANTIVIRUS: t.antivirus(), F.PROCESSES: CLAM_RUNS},
            {("pass", "antivirus:ClamAV")},
        ),
        Case(
            "none at all is a failure",
            {F.ANTIVIRUS: t.antivirus(products=(), daily_days=None), F.PROCESSES: NOTHING_RUNS},
            {("fail", "host")},
        ),
        Case(
            "installed, stopped",
            {F.ANTIVIRUS: t.antivirus(), F.PROCESSES: NOTHING_RUNS},
            {("fail", "antivirus:ClamAV")},
        ),
        Case(
            "a product named in the policy",
            {
                F.ANTIVIRUS: t.antivirus(products=(), daily_days=None),
                F.PROCESSES: (*NOTHING_RUNS, t.process(9, "qaxsafed")),
            },
            {("pass", "antivirus:named in the policy")},
            {"extra_process_names": ["qaxsafed"]},
        ),
        Case(
            "no process table",
            {F.ANTIVIRUS: t.antivirus(), F.PROCESSES: NotApplicable("no /proc")},
            {("not_applicable", "host")},
        ),
    ],
    "antivirus.signatures": [
        Case(
            "fresh",
            {F.ANTIVIRUS: t.antivirus(daily_days=1), F.CLOCK: t.CLOCK},
            {("pass", "antivirus:ClamAV")},
        ),
        Case(
            "stale",
            {F.ANTIVIRUS: t.antivirus(daily_days=4), F.CLOCK: t.CLOCK},
            {("fail", "antivirus:ClamAV")},
        ),
        Case(
            "stricter limit",
            {F.ANTIVIRUS: t.antivirus(daily_days=1.5), F.CLOCK: t.CLOCK},
            {("fail", "antivirus:ClamAV")},
            {"max_age_days": 1},
        ),
        Case(
            "ClamAV without a database",
            {F.ANTIVIRUS: t.antivirus(daily_days=None), F.CLOCK: t.CLOCK},
            {("fail", "antivirus:ClamAV")},
        ),
        Case(
            "no antivirus",
            {F.ANTIVIRUS: t.antivirus(products=(), daily_days=None), F.CLOCK: t.CLOCK},
            {("not_applicable", "host")},
        ),
        Case(
            "unreadable database",
            {
                F.ANTIVIRUS: NoPrivilege("/var/lib/clamav/daily.cld is not readable"),
                F.CLOCK: t.CLOCK,
            },
            {("no_privilege", "host")},
        ),
    ],
    "antivirus.last_scan": [
        Case(
            "scanned this week",
            {
                F.ANTIVIRUS: t.antivirus(),
                F.SCAN_LOG: {LOG: t.scan_log(LOG, 30, 2)},
                F.CLOCK: t.CLOCK,
            },
            {("pass", "host")},
        ),
        Case(
            "last scan too old",
            {F.ANTIVIRUS: t.antivirus(), F.SCAN_LOG: {LOG: t.scan_log(LOG, 9)}, F.CLOCK: t.CLOCK},
            {("fail", "host")},
        ),
        Case(
            "no scan on record",
            {
                F.ANTIVIRUS: t.antivirus(),
                F.SCAN_LOG: {LOG: t.ScanLog(LOG, False, ())},
                F.CLOCK: t.CLOCK,
            },
            {("not_applicable", "host")},
        ),
        Case(
            "no antivirus",
            {F.ANTIVIRUS: t.antivirus(products=()), F.SCAN_LOG: {}, F.CLOCK: t.CLOCK},
            {("not_applicable", "host")},
        ),
        Case(
            "log from the policy",
            {
                F.ANTIVIRUS: t.antivirus(),
                F.SCAN_LOG: {"/srv/scan.log": t.scan_log("/srv/scan.log", 1)},
                F.CLOCK: t.CLOCK,
            },
            {("pass", "host")},
            {"scan_log_paths": ["/srv/scan.log"]},
        ),
    ],
    "software.allow_list": [
        Case("no list", {F.PACKAGES: (t.package("bash"),)}, {("not_applicable", "host")}),
        Case(
            "patterns",
            {F.PACKAGES: (t.package("bash"), t.package("libc6"))},
            {("pass", "host")},
            {"allowed": ["bash", "lib*"]},
        ),
        Case(
            "outside",
            {F.PACKAGES: (t.package("bash"), t.package("nmap"))},
            {("fail", "package:nmap")},
            {"allowed": ["bash"]},
        ),
    ],
    "software.deny_list": [
        Case(
            "clean",
            {F.PACKAGES: (t.package("bash"), t.package("openssh-server", "net"))},
            {("pass", "host")},
        ),
        Case(
            "games by section, remote control and P2P by name",
            {
                F.PACKAGES: (
                    t.package("bash"),
                    t.package("freeciv", "contrib/games"),
                    t.package("bsdgames", "games"),
                    t.package("x11vnc", "x11"),
                    t.package("qbittorrent-nox", "net"),
                )
            },
            {
                ("fail", "package:freeciv"),
                ("fail", "package:bsdgames"),
                ("fail", "package:x11vnc"),
                ("fail", "package:qbittorrent-nox"),
            },
        ),
        Case(
            "policy adds, excepts and drops categories",
            {
                F.PACKAGES: (
                    t.package("nmap", "net"),
                    t.package("x11vnc", "x11"),
                    t.package("sl", "games"),
                )
            },
            {("fail", "package:nmap")},
            {"denied": ["scanner:nmap"], "exceptions": ["x11vnc"], "denied_categories": ["p2p"]},
        ),
    ],
    "software.baseline": [
        Case("no baseline", {F.PACKAGES: (t.package("bash"),)}, {("not_applicable", "host")}),
        Case(
            "same", {F.PACKAGES: (t.package("bash"),)}, {("pass", "host")}, {"baseline": ["bash"]}
        ),
        Case(
            "new package",
            {F.PACKAGES: (t.package("bash"), t.package("nmap"))},
            {("fail", "package:nmap")},
            {"baseline": ["bash"]},
        ),
        Case(
            "dependencies folded under what was installed on purpose",
            {
                F.PACKAGES: (
                    t.package("bash"),
                    InstalledPackage(
                        "gimp", "2.10", "amd64", "graphics", "dpkg", depends=("libgimp2.0",)
                    ),
                    InstalledPackage(
                        "libgimp2.0", "2.10", "amd64", "libs", "dpkg", "", True, ("libbabl",)
                    ),
                    InstalledPackage("libbabl", "0.1", "amd64", "libs", "dpkg", "", True),
                    InstalledPackage("liborphan", "1", "amd64", "libs", "dpkg", "", True),
                )
            },
            {("fail", "package:gimp"), ("fail", "package:liborphan")},
            {"baseline": ["bash"]},
        ),
    ],
    "software.unpackaged_listeners": [
        Case(
            "all packaged",
            {
                F.LISTENING_PROGRAMS: (
                    t.program(10, "/usr/sbin/sshd", ("tcp/22",), "openssh-server"),
                )
            },
            {("pass", "host")},
        ),
        Case(
            "a stray binary",
            {
                F.LISTENING_PROGRAMS: (
                    t.program(10, "/usr/sbin/sshd", ("tcp/22",), "openssh-server"),
                    t.program(66, "/tmp/.x/kworker", ("tcp/4444",), None),
                    t.program(67, "/opt/app/server", ("tcp/8080",), None),
                )
            },
            {("fail", "program:/tmp/.x/kworker")},
            {"exempt_paths": ["/opt/app/*"]},
        ),
        Case(
            "no package database",
            {F.LISTENING_PROGRAMS: (t.program(66, "/opt/x", ("tcp/1",), None, known=False),)},
            {("not_applicable", "host")},
        ),
        Case(
            "other users' processes unreadable",
            {F.LISTENING_PROGRAMS: NoPrivilege("open files of 3 processes are not readable")},
            {("no_privilege", "host")},
        ),
    ],
    "firewall.host_firewall": [
        Case(
            "nftables drop",
            {F.FIREWALL: Firewall(("nftables",), "drop", "kernel", {})},
            {("pass", "host")},
        ),
        Case("nothing", {F.FIREWALL: Firewall((), None, "kernel", {})}, {("fail", "host")}),
        Case(
            "ufw allowing by default",
            {F.FIREWALL: Firewall(("ufw",), "accept", "configuration", {})},
            {("fail", "host")},
        ),
        Case(
            "needs root",
            {F.FIREWALL: NoPrivilege("nft list ruleset needs root")},
            {("no_privilege", "host")},
        ),
    ],
    "network.identity": [
        Case("reported only", {F.NETWORK_INTERFACES: (LO, ETH0)}, {("not_applicable", "host")}),
        Case(
            "registered",
            {F.NETWORK_INTERFACES: (LO, ETH0)},
            {("pass", "host")},
            {"registered_ipv4": ["10.1.2.3"], "registered_macs": ["52:54:00:12:34:56"]},
        ),
        Case(
            "moved to another address and card",
            {F.NETWORK_INTERFACES: (LO, t.interface("eth0", "52:54:00:aa:bb:cc", "10.1.2.99"))},
            {("fail", "network:ipv4"), ("fail", "network:mac")},
            {"registered_ipv4": ["10.1.2.3"], "registered_macs": ["52:54:00:12:34:56"]},
        ),
    ],
    "backup.freshness": [
        Case(
            "no locations", {F.BACKUP_LOCATION: {}, F.CLOCK: t.CLOCK}, {("not_applicable", "host")}
        ),
        Case(
            "both recent",
            {
                F.BACKUP_LOCATION: {
                    "/backup": t.backup_at("/backup", 1),
                    "/mnt/nas": t.backup_at("/mnt/nas", 6),
                },
                F.CLOCK: t.CLOCK,
            },
            {("pass", "backup:local:/backup"), ("pass", "backup:offsite:/mnt/nas")},
            {"local_locations": ["/backup"], "offsite_locations": ["/mnt/nas"]},
        ),
        Case(
            "old, empty, missing, no off-site",
            {
                F.BACKUP_LOCATION: {
                    "/backup": t.backup_at("/backup", 30),
                    "/srv/empty": t.backup_at("/srv/empty", None),
                    "/gone": t.backup_at("/gone", None, exists=False),
                },
                F.CLOCK: t.CLOCK,
            },
            {
                ("fail", "backup:local:/backup"),
                ("fail", "backup:local:/srv/empty"),
                ("fail", "backup:local:/gone"),
                ("fail", "backup:offsite"),
            },
            {"local_locations": ["/backup", "/srv/empty", "/gone"]},
        ),
        Case(
            "unreadable",
            {F.BACKUP_LOCATION: {"/backup": NoPrivilege("not readable")}, F.CLOCK: t.CLOCK},
            {("no_privilege", "host")},
            {"local_locations": ["/backup"], "offsite_locations": ["/backup"]},
        ),
    ],
    "patch.updates_pending": [
        Case("none", {F.PENDING_UPDATES: ()}, {("pass", "host")}),
        Case("some", {F.PENDING_UPDATES: (t.update("vim", False),)}, {("fail", "host")}),
        Case(
            "within the allowance",
            {F.PENDING_UPDATES: (t.update("vim", False),)},
            {("pass", "host")},
            {"max_pending": 5},
        ),
    ],
    "patch.package_lists_age": [
        Case(
            "fresh",
            {F.PACKAGE_ACTIVITY: t.activity(lists_days=2), F.CLOCK: t.CLOCK},
            {("pass", "apt:lists")},
        ),
        Case(
            "stale",
            {F.PACKAGE_ACTIVITY: t.activity(lists_days=30), F.CLOCK: t.CLOCK},
            {("fail", "apt:lists")},
        ),
        Case(
            "never",
            {F.PACKAGE_ACTIVITY: t.activity(lists_days=None), F.CLOCK: t.CLOCK},
            {("fail", "apt:lists")},
        ),
    ],
    "patch.last_install": [
        Case(
            "recent",
            {F.PACKAGE_ACTIVITY: t.activity(install_days=3), F.CLOCK: t.CLOCK},
            {("pass", "host")},
        ),
        Case(
            "long ago",
            {F.PACKAGE_ACTIVITY: t.activity(install_days=200), F.CLOCK: t.CLOCK},
            {("fail", "host")},
        ),
        Case(
            "logs without installs",
            {F.PACKAGE_ACTIVITY: t.activity(install_days=None), F.CLOCK: t.CLOCK},
            {("fail", "host")},
        ),
        Case(
            "no logs",
            {F.PACKAGE_ACTIVITY: t.activity(install_days=None, sources=()), F.CLOCK: t.CLOCK},
            {("not_applicable", "host")},
        ),
    ],
    "patch.eol_release": [
        Case("Debian 12", {F.OS_RELEASE: t.DEBIAN, F.CLOCK: t.CLOCK}, {("pass", "host")}),
        Case("Debian 10", {F.OS_RELEASE: t.BUSTER, F.CLOCK: t.CLOCK}, {("fail", "host")}),
        Case(
            "Rocky 9.4 by its major version",
            {F.OS_RELEASE: t.ROCKY, F.CLOCK: t.CLOCK},
            {("pass", "host")},
        ),
        Case(
            "unknown", {F.OS_RELEASE: t.UNKNOWN_OS, F.CLOCK: t.CLOCK}, {("not_applicable", "host")}
        ),
        Case(
            "date from the policy",
            {F.OS_RELEASE: t.UNKNOWN_OS, F.CLOCK: t.CLOCK},
            {("fail", "host")},
            {"extra_eol_dates": ["kylin:V10=2026-01-01"]},
        ),
    ],
}

KERNELS_SAME = Kernels("6.1.0-28-amd64", ("6.1.0-9-amd64", "6.1.0-28-amd64"))
KERNELS_NEWER = Kernels("6.1.0-9-amd64", ("6.1.0-9-amd64", "6.1.0-28-amd64"))
KERNELS_UNKNOWN = Kernels(None, ())
