"""Scheduled jobs (cron, systemd timers) that run a file someone else can change."""

from __future__ import annotations

from typing import Any

from checks.facts import JobProgram, ScheduledJob, UserAccount
from checks.factset import Facts
from checks.messages import say
from checks.model import Finding, Status

TEMPORARY_FOLDERS = ("/tmp/", "/var/tmp/", "/dev/shm/")


def _problem(
    program: JobProgram, job: ScheduledJob, uids: dict[str, int]
) -> tuple[str, dict[str, Any]] | None:
    """The problem's sentence id (checks/messages.py) and its parameters beside the program."""
    if program.path.startswith(TEMPORARY_FOLDERS):
        return "jobs.runs_from_temporary_folder", {}
    if not program.exists or program.mode is None:
        return None
    if program.mode & 0o002:
        return "jobs.runs_world_writable", {"mode": f"{program.mode:04o}"}
    if program.mode & 0o020 and program.gid not in (0, None):
        return "jobs.runs_group_writable", {"group": program.gid}
    runner = uids.get(job.account)
    if program.uid not in (0, runner) and program.mode & 0o200:
        return "jobs.runs_other_owner", {"uid": program.uid}
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
            message_id, named = problem
            findings.append(
                say(
                    Status.FAIL,
                    f"job:{job.source}:{program.path}",
                    message_id,
                    {
                        "source": job.source,
                        "account": job.account,
                        "command": job.command,
                        "program": program.path,
                        "mode": None if program.mode is None else f"{program.mode:04o}",
                        "owner_uid": program.uid,
                    },
                    source=job.source,
                    account=job.account,
                    program=program.path,
                    **named,
                )
            )
    if findings:
        return findings
    return [say(Status.PASS, "host", "jobs.none_unsafe", {"jobs": len(jobs)}, count=len(jobs))]
