"""Scheduled jobs: cron (system crontab, /etc/cron.d, users' crontabs, the cron.daily-style
folders) and systemd timers, with the state of every program file each job names.

A job that runs a file in /tmp, or a file other accounts can change, hands the job's account
(root, mostly) to whoever writes that file. The file's state is read here; checks judge it.
"""

from __future__ import annotations

import re
import shlex
import stat

from checks.collectors.linux.accounts import collect_users
from checks.errors import NoPrivilege, NotApplicable
from checks.facts import JobProgram, ScheduledJob
from checks.host import HostContext
from checks.messages import said

SYSTEM_CRONTABS = ("/etc/crontab",)
CRON_D = "/etc/cron.d"
USER_CRONTABS = ("/var/spool/cron/crontabs", "/var/spool/cron")  # Debian, Red Hat
RUN_PARTS = ("/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly")
TIMER_DIRS = ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
_ENV_LINE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s*=")
_EXEC_PREFIXES = "-@:+!"


def _program(host: HostContext, path: str) -> JobProgram:
    try:
        info = host.path(path).stat()
    except OSError:
        return JobProgram(path, False, None, None, None)
    return JobProgram(path, True, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)


def _paths_in(command: str) -> list[str]:
    try:
        words = shlex.split(command, comments=False)
    except ValueError:
        words = command.split()
    paths = []
    for word in words:
        for part in re.split(r"[;&|<>()`]+", word):
            part = part.strip("'\"")
            if part.startswith("/") and not part.startswith("/dev/null"):
                paths.append(part)
    return list(dict.fromkeys(paths))


def _job(host: HostContext, source: str, account: str, command: str) -> ScheduledJob:
    programs = tuple(_program(host, p) for p in _paths_in(command))
    return ScheduledJob(source, account, command[:300], programs)


def _crontab_lines(text: str) -> list[list[str]]:
    rows = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or _ENV_LINE.match(line):
            continue
        rows.append(line.split())
    return rows


def _system_crontab(host: HostContext, path: str) -> list[ScheduledJob]:
    text = host.read_optional(path)
    jobs = []
    for fields in _crontab_lines(text or ""):
        # "@daily user command" or "m h dom mon dow user command".
        schedule = 1 if fields[0].startswith("@") else 5
        if len(fields) > schedule + 1:
            command = " ".join(fields[schedule + 1 :])
            jobs.append(_job(host, path, fields[schedule], command))
    return jobs


def _user_crontab(host: HostContext, path: str, account: str) -> list[ScheduledJob]:
    jobs = []
    for fields in _crontab_lines(host.read_optional(path) or ""):
        schedule = 1 if fields[0].startswith("@") else 5
        if len(fields) > schedule:
            jobs.append(_job(host, path, account, " ".join(fields[schedule:])))
    return jobs


def _listing(host: HostContext, folder: str) -> list[str]:
    directory = host.path(folder)
    try:
        return sorted(entry.name for entry in directory.iterdir())
    except FileNotFoundError:
        return []
    except PermissionError as exc:
        raise said(NoPrivilege, "facts.unreadable", path=folder) from exc


def _timer_jobs(host: HostContext) -> list[ScheduledJob]:
    jobs = []
    seen: set[str] = set()
    for folder in TIMER_DIRS:
        for name in _listing(host, folder):
            if not name.endswith(".timer") or name in seen:
                continue
            seen.add(name)
            timer = host.read_optional(f"{folder}/{name}") or ""
            unit = re.search(r"^\s*Unit\s*=\s*(\S+)", timer, re.MULTILINE)
            service = unit.group(1) if unit else name.removesuffix(".timer") + ".service"
            for service_folder in TIMER_DIRS:
                text = host.read_optional(f"{service_folder}/{service}")
                if text is None:
                    continue
                user = re.search(r"^\s*User\s*=\s*(\S+)", text, re.MULTILINE)
                for line in re.findall(r"^\s*Exec\w*\s*=\s*(.+)$", text, re.MULTILINE):
                    command = line.lstrip(_EXEC_PREFIXES)
                    source = f"{service_folder}/{service}"
                    jobs.append(_job(host, source, user.group(1) if user else "root", command))
                break
    return jobs


def collect_scheduled_jobs(host: HostContext) -> tuple[ScheduledJob, ...]:
    jobs: list[ScheduledJob] = []
    for path in SYSTEM_CRONTABS:
        jobs += _system_crontab(host, path)
    for name in _listing(host, CRON_D):
        if not name.startswith(".") and "." not in name:  # cron skips names with dots
            jobs += _system_crontab(host, f"{CRON_D}/{name}")
    accounts = {u.name for u in collect_users(host)}
    for folder in USER_CRONTABS:
        for name in _listing(host, folder):
            if name in accounts and host.path(f"{folder}/{name}").is_file():
                jobs += _user_crontab(host, f"{folder}/{name}", name)
    for folder in RUN_PARTS:
        for name in _listing(host, folder):
            if not name.startswith("."):
                path = f"{folder}/{name}"
                jobs.append(ScheduledJob(folder, "root", path, (_program(host, path),)))
    jobs += _timer_jobs(host)
    schedulers = (*SYSTEM_CRONTABS, CRON_D, "/etc/systemd")
    if not jobs and not any(host.path(p).exists() for p in schedulers):
        raise said(NotApplicable, "facts.no_scheduler")
    return tuple(jobs)
