"""``xunjian deploy ssh``: the parser (``add_arguments``) and the command.

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

from xunjian.core.paths import default_server_data
from xunjian.deploy.inventory import HostEntry, InventoryError, load_inventory

DEPLOY_FOLDER = "deploy"


def _non_negative_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from exc
    if not 0 <= value <= 24 * 3600:
        raise argparse.ArgumentTypeError(f"must be 0..86400 seconds: {text}")
    return value


def _parallel(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from exc
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"must be 1..64: {value}")
    return value


def add_arguments(deploy: argparse.ArgumentParser) -> None:
    """The subcommands of ``xunjian deploy``."""
    dsub = deploy.add_subparsers(dest="deploy_command", required=True, metavar="COMMAND")
    p = dsub.add_parser(
        "ssh",
        help="install, enroll and start the agent on the hosts of an inventory over SSH",
        description=(
            "Install the agent from an offline bundle, enroll it, install its systemd unit, "
            "start it and wait for its first report, on every host of a TOML inventory. "
            "The bundle holds the xunjian wheel given with --wheel, or one built from the "
            "source checkout this command runs from. "
            "Running it again changes nothing on an up-to-date host. See docs/deploy.md."
        ),
    )
    p.add_argument("--inventory", type=Path, required=True, help="the hosts, as TOML")
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"server data folder (default: $XUNJIAN_DATA or {default_server_data()})",
    )
    p.add_argument(
        "--known-hosts",
        type=Path,
        default=None,
        help="pinned SSH host keys, OpenSSH format (default: DATA/deploy/known_hosts)",
    )
    p.add_argument(
        "--trust-on-first-use",
        action="store_true",
        help="accept and record the key of a host not in the known_hosts file (a changed key "
        "is still refused)",
    )
    p.add_argument("--parallel", type=_parallel, default=4, help="hosts at a time (default 4)")
    p.add_argument(
        "--wheel",
        type=Path,
        default=None,
        metavar="FILE",
        help="install this xunjian wheel (xunjian-VERSION-py3-none-any.whl) on the hosts; "
        "needed when xunjian is installed from a wheel (default: build it from the checkout)",
    )
    p.add_argument(
        "--uninstall", action="store_true", help="stop the agent and remove what was installed"
    )
    p.add_argument(
        "--report-timeout",
        type=_non_negative_seconds,
        default=300.0,
        help="seconds to wait for each agent's first report (default 300; 0: do not wait)",
    )
    p.add_argument(
        "--server-url", default=None, help="URL the agents use (default: from config.json)"
    )
    p.set_defaults(handler=deploy_ssh_command)


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
