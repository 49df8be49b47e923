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
            Finding(
                Status.NOT_APPLICABLE,
                "host",
                "the server holds no account baseline for this host yet; set the parameter "
                "baseline to the account SIDs recorded when the host was accepted",
                {"accounts": len(accounts.accounts)},
            )
        ]
    known = _baseline_rids(baseline, accounts.machine_sid)
    if known is None:
        # One cause, one failure: every account would otherwise be reported as new.
        return [
            Finding(
                Status.FAIL,
                "host",
                f"the machine SID {accounts.machine_sid} is not the baseline's: Windows was "
                "reinstalled or the disk is another PC's; check the accounts and take a new "
                "baseline",
                {"machine_sid": accounts.machine_sid, "baseline_sids": baseline[:20]},
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
            message = (
                f"account {account.name} (RID {account.rid}) was added after the baseline "
                f"was taken (its highest RID was {highest})"
            )
            severity = None
        else:
            message = (
                f"account {account.name} (RID {account.rid}) is not in the baseline although "
                f"its RID is below the baseline's highest ({highest}): RIDs are never reused, "
                "so the SAM was changed outside Windows or the baseline is incomplete"
            )
            severity = Severity.CRITICAL
        findings.append(Finding(Status.FAIL, f"sid:{sid}", message, evidence, severity=severity))
    if findings:
        return findings
    return [
        Finding(
            Status.PASS,
            "host",
            f"no account was added since the baseline ({len(accounts.accounts)} accounts, "
            f"highest RID {highest})",
            {"highest_baseline_rid": highest},
        )
    ]
