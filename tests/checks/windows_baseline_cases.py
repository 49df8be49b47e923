"""Fact-table cases of accounts.windows_added_since_baseline (checks/library/windows_baseline.py);
merged into CASES. The accounts are those of windows_cases' PC: RIDs 500, 501, 1001, 1002."""

from __future__ import annotations

import dataclasses

from checks.facts import FactName
from checks.facts_windows import WindowsAccounts
from tests.checks.case import Case
from tests.checks.windows_cases import MACHINE, _account, _accounts

F = FactName
BASELINE = [f"{MACHINE}-{rid}" for rid in (500, 501, 1001, 1002)]


def _renamed(rid: int, name: str) -> WindowsAccounts:
    accounts = _accounts()
    renamed = tuple(
        dataclasses.replace(account, name=name) if account.rid == rid else account
        for account in accounts.accounts
    )
    return dataclasses.replace(accounts, accounts=renamed)


WINDOWS_BASELINE_CASES: dict[str, list[Case]] = {
    "accounts.windows_added_since_baseline": [
        Case("no baseline yet", {F.WINDOWS_ACCOUNTS: _accounts()}, {("not_applicable", "host")}),
        Case(
            "as in the baseline",
            {F.WINDOWS_ACCOUNTS: _accounts()},
            {("pass", "host")},
            {"baseline": BASELINE},
        ),
        Case(
            # A renamed account keeps its SID: renaming is no addition.
            "renamed, not added",
            {F.WINDOWS_ACCOUNTS: _renamed(1001, "王老师")},
            {("pass", "host")},
            {"baseline": BASELINE},
        ),
        Case(
            "an account created after the baseline",
            {F.WINDOWS_ACCOUNTS: _accounts(more=(_account(1003, "helper"),))},
            {("fail", f"sid:{MACHINE}-1003")},
            {"baseline": BASELINE},
        ),
        Case(
            # 1002 missing from the baseline although 1003 is in it: RIDs are never reused.
            "a RID below the baseline's highest that it does not hold",
            {F.WINDOWS_ACCOUNTS: _accounts(more=(_account(1003, "helper"),))},
            {("fail", f"sid:{MACHINE}-1002")},
            {"baseline": [*BASELINE[:3], f"{MACHINE}-1003"]},
        ),
        Case(
            "another machine's baseline",
            {F.WINDOWS_ACCOUNTS: _accounts()},
            {("fail", "host")},
            {"baseline": ["S-1-5-21-9-9-9-500", "S-1-5-21-9-9-9-1001"]},
        ),
    ],
}
