"""Scheduled jobs (cron, systemd timers) that run a file someone else can change."""

from __future__ import annotations

from typing import Any

from checks.facts import JobProgram, ScheduledJob, UserAccount
from checks.factset import Facts
from checks.model import Finding, Status

TEMPORARY_FOLDERS = ("/tmp/", "/var/tmp/", "/dev/shm/")


def _problem(program: JobProgram, job: ScheduledJob, uids: dict[str, int]) -> str | None:
    if program.path.startswith(TEMPORARY_FOLDERS):
        return f"runs {program.path} from a temporary folder every account can write to"
    if not program.exists or program.mode is None:
        return None
    if program.mode & 0o002:
        return f"runs {program.path}, which every account can change (mode {program.mode:04o})"
    if program.mode & 0o020 and program.gid not in (0, None):
        return f"runs {program.path}, which group {program.gid} can change"
    runner = uids.get(job.account)
    if program.uid not in (0, runner) and program.mode & 0o200:
        return f"runs {program.path}, owned and changeable by UID {program.uid}"
    return None


def unsafe(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    users: tuple[UserAccount, ...] = facts.users
    uids = {u.name: u.uid for u in users}
    jobs = facts.scheduled_jobs
    findings = []
    for job in jobs:
        for program in job.programs:
            problem = _problem(program, job, uids)
            if problem is None:
                continue
            findings.append(
                Finding(
                    Status.FAIL,
                    f"job:{job.source}:{program.path}",
                    f"a job in {job.source} running as {job.account} {problem}; whoever "
                    f"writes it runs commands as {job.account}",
                    {
                        "source": job.source,
                        "account": job.account,
                        "command": job.command,
                        "program": program.path,
                        "mode": None if program.mode is None else f"{program.mode:04o}",
                        "owner_uid": program.uid,
                    },
                )
            )
    if findings:
        return findings
    return [
        Finding(
            Status.PASS,
            "host",
            f"none of {len(jobs)} scheduled jobs runs a file others can change",
            {"jobs": len(jobs)},
        )
    ]
