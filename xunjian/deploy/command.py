"""``xunjian deploy ssh``: the command body (the parser is in ``xunjian/cli_deploy.py``).

Exit status: 0 when every host succeeded; 1 when any host failed (each failure's reason is in
the summary) or the inventory, the data folder, the unit or the source of the agent's wheel
(the checkout, or ``--wheel``) cannot be used; all of these are checked before any host is
touched.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from xunjian.deploy.inventory import HostEntry, InventoryError, load_inventory

DEPLOY_FOLDER = "deploy"


def _fail(message: str) -> int:
    print(f"xunjian deploy ssh: {message}", file=sys.stderr)
    return 1


def default_known_hosts(data: Path) -> Path:
    return data / DEPLOY_FOLDER / "known_hosts"


def deploy_ssh_command(args: argparse.Namespace) -> int:
    from xunjian.deploy.bundle import BundleBuilder, BundleError
    from xunjian.deploy.display import ProgressPrinter, summary
    from xunjian.deploy.layout import LayoutError, unit_text
    from xunjian.deploy.remote import KnownHosts
    from xunjian.deploy.serverside import ServerSide, ServerSideError
    from xunjian.deploy.steps import Context, HostOutcome, deploy_host, uninstall_host

    data: Path = args.data
    builder: BundleBuilder | None = None
    try:
        inventory = load_inventory(args.inventory)
        unit_text()  # a broken unit fails here, before any host is touched
        if not args.uninstall:  # uninstalling needs no bundle, so neither checkout nor wheel
            secrets = {
                name
                for host in inventory.hosts
                for name in (host.password_env, host.sudo_password_env)
                if name
            }
            builder = BundleBuilder(
                data / DEPLOY_FOLDER / "bundles", hidden_env=frozenset(secrets), wheel=args.wheel
            )
        server = ServerSide(data, args.server_url)
    except (InventoryError, LayoutError, BundleError, ServerSideError) as exc:
        return _fail(str(exc))
    known_hosts_path = args.known_hosts or default_known_hosts(data)
    (data / DEPLOY_FOLDER).mkdir(mode=0o700, exist_ok=True)
    known_hosts = KnownHosts(known_hosts_path, args.trust_on_first_use)
    if not known_hosts_path.exists() and not args.trust_on_first_use:
        print(
            f"note: {known_hosts_path} does not exist, so every host key is unknown; see "
            "docs/deploy.md (ssh-keyscan) or use --trust-on-first-use",
            file=sys.stderr,
        )
    progress = ProgressPrinter()
    context = Context(
        server=server,
        builder=builder,
        known_hosts=known_hosts,
        progress=progress,
        report_timeout=0 if args.uninstall else args.report_timeout,
    )
    work = uninstall_host if args.uninstall else deploy_host
    action = "deploy.ssh.uninstall" if args.uninstall else "deploy.ssh"
    doing = "uninstalling from"
    if builder is not None:
        doing = f"deploying xunjian {builder.stamp} (from {builder.origin}) to"
    print(
        f"{doing} "
        f"{len(inventory.hosts)} host(s), {args.parallel} at a time; "
        f"server {server.server_url}; known hosts {known_hosts_path}"
        + (" (trust on first use)" if args.trust_on_first_use else "")
    )

    def one(host: HostEntry) -> HostOutcome:
        outcome = work(host, context)
        # Logged as each host finishes: an interrupted run still leaves what it did.
        try:
            server.record(
                action,
                target=f"host:{host.address}:{host.port}",
                outcome="ok" if outcome.ok else "error",
                reason=f"{outcome.reason}: {outcome.message}" if outcome.reason else "",
                details=outcome.details(),
            )
        except Exception as exc:  # the host is done; a failed log entry must still be seen
            print(f"xunjian deploy ssh: operation log entry failed: {exc}", file=sys.stderr)
            outcome.notes.append("NOT in the operation log (see the error above)")
        return outcome

    try:
        with ThreadPoolExecutor(max_workers=args.parallel) as pool:
            outcomes = list(pool.map(one, inventory.hosts))
    finally:
        server.close()
    print()
    print(summary(outcomes))
    return 0 if all(outcome.ok for outcome in outcomes) else 1
