"""Logs kept as POLICY.md E12 asks: on disk, for six months, and safe from tampering."""

from __future__ import annotations

from fnmatch import fnmatch
from typing import Any

from checks.facts import LogRotation, LogSetup
from checks.factset import Facts
from checks.messages import say
from checks.model import Finding, Status

# Where a syslog daemon's configuration could not be read, the files it writes by default.
_DEFAULT_SYSLOG_FILES = ("/var/log/syslog", "/var/log/messages", "/var/log/auth.log")


def _evidence(setup: LogSetup) -> dict[str, Any]:
    return {
        "journald_installed": setup.journald_installed,
        "journald_storage": setup.journald_storage,
        "journal_dir_exists": setup.journal_dir_exists,
        "syslog_daemons": list(setup.syslog_daemons),
    }


def persistent(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    setup = facts.log_setup
    evidence = _evidence(setup)
    if setup.syslog_daemons:
        daemons = ", ".join(setup.syslog_daemons)
        return [say(Status.PASS, "host", "logs.syslog_on_disk", evidence, daemons=daemons)]
    if setup.journal_on_disk:
        storage = setup.journald_storage
        return [say(Status.PASS, "host", "logs.journal_on_disk", evidence, storage=storage)]
    if not setup.journald_installed:
        return [say(Status.FAIL, "host", "logs.lost_no_logger", evidence)]
    if setup.journald_storage == "auto":
        return [say(Status.FAIL, "host", "logs.lost_journal_in_memory", evidence)]
    storage = setup.journald_storage
    return [say(Status.FAIL, "host", "logs.lost_journal_storage", evidence, storage=storage)]


def _covers(rotation: LogRotation, files: tuple[str, ...]) -> list[str]:
    return [f for f in files if any(fnmatch(f, pattern) for pattern in rotation.paths)]


def retention(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    setup = facts.log_setup
    least = params["min_days"]
    findings: list[Finding] = []
    if not setup.syslog_daemons and not setup.journal_on_disk:
        return [say(Status.NOT_APPLICABLE, "host", "logs.none_on_disk", _evidence(setup))]
    # With a syslog daemon, its files are the record (it receives what journald does); the
    # journal is judged only where it is the one store on disk.
    if setup.journal_on_disk and not setup.syslog_daemons:
        days = setup.journald_max_retention_days
        evidence = {"MaxRetentionSec_days": days, "required_days": least}
        if days is not None and days < least:
            findings.append(
                say(
                    Status.FAIL,
                    "journal:journald",
                    "logs.journal_short",
                    evidence,
                    days=f"{days:g}",
                    required=least,
                )
            )
        elif days is None:
            findings.append(say(Status.PASS, "journal:journald", "logs.journal_no_age", evidence))
        else:
            findings.append(
                say(
                    Status.PASS,
                    "journal:journald",
                    "logs.journal_kept",
                    evidence,
                    days=f"{days:g}",
                    required=least,
                )
            )
    if setup.syslog_daemons:
        files = setup.syslog_files or _DEFAULT_SYSLOG_FILES
        judged = False
        for rotation in setup.rotations:
            covered = _covers(rotation, files)
            if not covered:
                continue
            judged = True
            kept = rotation.kept_days
            evidence = {
                "files": covered,
                "period_days": rotation.period_days,
                "rotate": rotation.rotate,
                "maxage": rotation.maxage_days,
                "kept_days": kept,
                "required_days": least,
            }
            resource = f"logrotate:{rotation.config}"
            named = {"config": rotation.config, "files": ", ".join(covered)}
            if kept is None:
                findings.append(
                    say(Status.FAIL, resource, "logs.rotated_by_size", evidence, **named)
                )
            elif kept < least:
                findings.append(
                    say(
                        Status.FAIL,
                        resource,
                        "logs.rotation_short",
                        evidence,
                        **named,
                        days=f"{kept:g}",
                        copies=rotation.rotate,
                        required=least,
                    )
                )
            else:
                findings.append(
                    say(
                        Status.PASS,
                        resource,
                        "logs.rotation_kept",
                        evidence,
                        **named,
                        days=f"{kept:g}",
                    )
                )
        if not judged:
            findings.append(
                say(
                    Status.PASS,
                    "host",
                    "logs.not_rotated",
                    {"files": list(files)},
                    files=", ".join(files),
                )
            )
    return findings


def file_permissions(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    special = facts.special_files
    findings = []
    for file in special.world_writable:
        if not file.path.startswith("/var/log/"):
            continue
        kind = "folder" if file.is_dir else "file"
        findings.append(
            say(
                Status.FAIL,
                f"file:{file.path}",
                "logs.world_writable",
                {"mode": f"{file.mode:04o}", "uid": file.uid, "package": file.package},
                kind=kind,
                path=file.path,
                mode=f"{file.mode:04o}",
            )
        )
    if findings:
        return findings
    if "/var" not in special.walked:
        return [say(Status.NOT_APPLICABLE, "host", "logs.no_var_log")]
    return [say(Status.PASS, "host", "logs.none_world_writable")]
