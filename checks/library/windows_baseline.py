"""Windows local accounts added since the server's baseline (POLICY.md E8, E16), keyed on SIDs.

Names are no key on Windows: they are translated (Administrator is 管理员 on some images) and
renamed at will, while a local account's SID (the machine SID plus its RID) stays. RIDs are
handed out in rising order and never reused, so an account whose RID is above the baseline's
highest was created after the baseline; one below it that the baseline does not hold should not
exist at all (a SAM edited by hand, or a RID forged by an attacker), and is reported apart.
"""

from __future__ import annotations

from typing import Any

from checks.factset import Facts
from checks.messages import say
from checks.model import Finding, Severity, Status


def _baseline_rids(baseline: list[str], machine_sid: str) -> set[int] | None:
    """The RIDs of the baseline's SIDs of this machine; None when none is of this machine."""
    prefix = machine_sid + "-"
    rids = {
        int(sid[len(prefix) :])
        for sid in baseline
        if sid.startswith(prefix) and sid[len(prefix) :].isdigit()
    }
    return rids or None


def added_since_baseline(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    baseline: list[str] = list(params["baseline"])
    accounts = facts.windows_accounts
    if not baseline:
        return [
            say(
                Status.NOT_APPLICABLE,
                "host",
                "windows.no_account_baseline",
                {"accounts": len(accounts.accounts)},
            )
        ]
    known = _baseline_rids(baseline, accounts.machine_sid)
    if known is None:
        # One cause, one failure: every account would otherwise be reported as new.
        return [
            say(
                Status.FAIL,
                "host",
                "windows.machine_sid_changed",
                {"machine_sid": accounts.machine_sid, "baseline_sids": baseline[:20]},
                sid=accounts.machine_sid,
            )
        ]
    highest = max(known)
    findings = []
    for account in sorted(accounts.accounts, key=lambda account: account.rid):
        if account.rid in known:
            continue
        sid = f"{accounts.machine_sid}-{account.rid}"
        evidence = {
            "sid": sid,
            "rid": account.rid,
            "name": account.name,
            "disabled": account.disabled,
            "highest_baseline_rid": highest,
        }
        if account.rid > highest:
            message_id = "windows.account_added"
            severity = None
        else:
            message_id = "windows.account_below_baseline"
            severity = Severity.CRITICAL
        findings.append(
            say(
                Status.FAIL,
                f"sid:{sid}",
                message_id,
                evidence,
                severity,
                user=account.name,
                rid=account.rid,
                highest=highest,
            )
        )
    if findings:
        return findings
    return [
        say(
            Status.PASS,
            "host",
            "windows.no_account_added",
            {"highest_baseline_rid": highest},
            count=len(accounts.accounts),
            highest=highest,
        )
    ]
