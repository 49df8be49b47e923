"""Logs kept as POLICY.md E12 asks: on disk, for six months, and safe from tampering."""

from __future__ import annotations

from fnmatch import fnmatch
from typing import Any

from checks.facts import LogRotation, LogSetup
from checks.factset import Facts
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
        message = f"{', '.join(setup.syslog_daemons)} starts at boot and writes logs to disk"
        return [Finding(Status.PASS, "host", message, evidence)]
    if setup.journal_on_disk:
        message = (
            f"journald keeps the journal in /var/log/journal (Storage={setup.journald_storage})"
        )
        return [Finding(Status.PASS, "host", message, evidence)]
    if not setup.journald_installed:
        why = "there is neither journald nor a syslog daemon (rsyslog, syslog-ng)"
    elif setup.journald_storage == "auto":
        why = "journald's Storage=auto keeps the journal in memory, as /var/log/journal is missing"
    else:
        why = f"journald's Storage={setup.journald_storage} keeps no journal on disk"
    message = f"the system's logs are lost at every restart: {why}, and no syslog daemon runs"
    return [Finding(Status.FAIL, "host", message, evidence)]


def _covers(rotation: LogRotation, files: tuple[str, ...]) -> list[str]:
    return [f for f in files if any(fnmatch(f, pattern) for pattern in rotation.paths)]


def retention(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    setup = facts.log_setup
    least = params["min_days"]
    findings: list[Finding] = []
    if not setup.syslog_daemons and not setup.journal_on_disk:
        return [
            Finding(
                Status.NOT_APPLICABLE,
                "host",
                "no logs are kept on disk, so none are kept long (logs.persistent reports it)",
                _evidence(setup),
            )
        ]
    # With a syslog daemon, its files are the record (it receives what journald does); the
    # journal is judged only where it is the one store on disk.
    if setup.journal_on_disk and not setup.syslog_daemons:
        days = setup.journald_max_retention_days
        evidence = {"MaxRetentionSec_days": days, "required_days": least}
        if days is not None and days < least:
            message = (
                f"journald deletes entries after {days:g} days (MaxRetentionSec; policy: {least})"
            )
            findings.append(Finding(Status.FAIL, "journal:journald", message, evidence))
        else:
            message = (
                "journald sets no age limit (MaxRetentionSec unset); its size limit "
                "(SystemMaxUse) decides how long entries stay"
                if days is None
                else f"journald keeps entries {days:g} days (policy: {least})"
            )
            findings.append(Finding(Status.PASS, "journal:journald", message, evidence))
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
            if kept is None:
                message = (
                    f"{rotation.config} rotates {', '.join(covered)} by size, so how long a "
                    "line is kept is not known; rotate by time (weekly, rotate 26)"
                )
                findings.append(Finding(Status.FAIL, resource, message, evidence))
            elif kept < least:
                message = (
                    f"{rotation.config} keeps {', '.join(covered)} for {kept:g} days "
                    f"({rotation.rotate} old copies; policy: {least})"
                )
                findings.append(Finding(Status.FAIL, resource, message, evidence))
            else:
                message = f"{rotation.config} keeps {', '.join(covered)} for {kept:g} days"
                findings.append(Finding(Status.PASS, resource, message, evidence))
        if not judged:
            message = (
                f"no logrotate rule rotates {', '.join(files)}: they are kept until removed by hand"
            )
            findings.append(Finding(Status.PASS, "host", message, {"files": list(files)}))
    return findings


def file_permissions(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    special = facts.special_files
    findings = []
    for file in special.world_writable:
        if not file.path.startswith("/var/log/"):
            continue
        kind = "folder" if file.is_dir else "file"
        findings.append(
            Finding(
                Status.FAIL,
                f"file:{file.path}",
                f"every account can change or empty the log {kind} {file.path} "
                f"(mode {file.mode:04o}), so a record can be forged or erased",
                {"mode": f"{file.mode:04o}", "uid": file.uid, "package": file.package},
            )
        )
    if findings:
        return findings
    if "/var" not in special.walked:
        return [Finding(Status.NOT_APPLICABLE, "host", "this host has no /var/log")]
    return [Finding(Status.PASS, "host", "no log file or folder can be changed by every account")]
