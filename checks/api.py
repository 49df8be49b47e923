"""The stable interface the agent and the server import. Keep these names and signatures."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from checks.collectors import collector_for
from checks.collectors.linux.accounts import collect_users
from checks.engine import run_checks
from checks.errors import CollectError
from checks.facts import FactName
from checks.factset import FactSource
from checks.host import HostContext
from checks.inventory import collect_inventory_from
from checks.registry import REGISTRY
from checks.runner import CommandRunner


def _host(
    root: Path | None, runner: CommandRunner | None, cache: Path | None = None
) -> HostContext:
    # With a root, commands run only when the caller passes a runner on purpose (a test's).
    if root is None:
        return HostContext.live(runner, cache)
    return HostContext.tree(Path(root), runner, cache)


def run_scan(
    policy_checks: Mapping[str, Mapping[str, Any]] | None = None,
    root: Path | None = None,
    runner: CommandRunner | None = None,
    cache: Path | None = None,
) -> list[dict[str, Any]]:
    """Run every enabled check once and return the result dicts of docs/architecture.md.

    `policy_checks` maps check id -> {"enabled": bool, "params": {...}}; a check it does not
    name runs with its defaults. Each fact is collected once for the whole scan. `cache` is
    the agent's state folder (HostContext.cache).
    """
    host = _host(root, runner, cache)
    results = run_checks(FactSource(host), host.platform, policy_checks)
    return [result.to_dict() for result in results]


def collect_inventory(root: Path | None = None) -> dict[str, Any]:
    """hostname, os, kernel, architecture, platform and addresses [{interface, mac, ipv4, ipv6}]."""
    return collect_inventory_from(_host(root, None))


def collect_baseline(root: Path | None = None) -> dict[str, Any]:
    """The lists a server keeps as this host's baseline: accounts and installed packages.

    The server hands them back as the `baseline` parameters of accounts.added_since_baseline
    (`accounts`: Linux account names), accounts.windows_added_since_baseline (`account_sids`:
    Windows local accounts by SID, as names are translated and can be renamed) and
    software.baseline (`packages`, from the platform's own package collector). A list that
    cannot be read, or that the platform does not have, is None; a reading error is in
    `errors`.
    """
    host = _host(root, None)
    baseline: dict[str, Any] = {
        "accounts": None,
        "account_sids": None,
        "packages": None,
        "errors": {},
    }
    windows_accounts = collector_for(FactName.WINDOWS_ACCOUNTS, host.platform)
    if windows_accounts is not None:
        try:
            found = windows_accounts(host)
            baseline["account_sids"] = sorted(
                {f"{found.machine_sid}-{account.rid}" for account in found.accounts}
            )
        except CollectError as exc:
            baseline["errors"]["account_sids"] = str(exc)
    else:
        try:
            baseline["accounts"] = sorted({user.name for user in collect_users(host)})
        except CollectError as exc:
            baseline["errors"]["accounts"] = str(exc)
    collect = collector_for(FactName.PACKAGES, host.platform)
    try:
        if collect is not None:
            baseline["packages"] = sorted({package.name for package in collect(host)})
    except CollectError as exc:
        baseline["errors"]["packages"] = str(exc)
    return baseline


def registry_catalog() -> list[dict[str, Any]]:
    """Every check's metadata as JSON-able dicts, in registry order."""
    return [spec.to_catalog() for spec in REGISTRY.values()]
