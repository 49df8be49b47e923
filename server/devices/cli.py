"""``xunjian server device add|list|check|remove|key``: the parser (``add_parser``) and the
commands.

Each command that changes something is recorded in the operation log with the person who ran
it (``cli:<login name>``). No command ever prints a password: ``check`` names the user whose
vendor-default password was accepted; the password itself is for admins in the console and
``GET /api/v1/devices/<id>/credential``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from server.alerts.outbox import worker_name
from server.commands import add_data_option, cli_actor
from server.config import ConfigError, ServerConfig, load_config
from server.devices.check import CheckSummary, check_now
from server.devices.models import DEVICE_TYPES
from server.devices.remote import public_key_line
from server.devices.store import (
    DeviceError,
    add_device,
    list_devices,
    mark_all_due,
    remove_device,
    validate,
)
from server.oplog.chain import EntryFields
from server.oplog.settings import OplogSettings
from server.oplog.store import OperationLog
from server.store.engine import make_engine, make_sessionmaker


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1..65535, not {text!r}")
    return int(text)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """``device`` under ``xunjian server``."""
    device = subparsers.add_parser(
        "device", help="network devices checked over SSH for vendor-default passwords"
    )
    dsub = device.add_subparsers(dest="device_command", required=True, metavar="COMMAND")

    p = dsub.add_parser(
        "add",
        help="add a device the organisation owns, with who authorised checking it",
        description="Adds a device to the inventory. Checking it tries a short list of "
        "vendor-default passwords over SSH (docs/devices.md), so an authorisation is required "
        "and is recorded with the device and in the operation log.",
    )
    add_data_option(p)
    p.add_argument("address", help="IP address or host name")
    p.add_argument("--port", type=_port, default=22, help="SSH port (default 22)")
    p.add_argument("--type", required=True, choices=DEVICE_TYPES)
    p.add_argument("--label", default=None, help="a name for lists (default: type and address)")
    p.add_argument(
        "--key-user",
        default="root",
        help="account the organisation's key logs in as, for the Linux collectors (default root)",
    )
    p.add_argument(
        "--authorised-by", required=True, help="name of the person who authorised the checks"
    )
    p.add_argument(
        "--authorisation",
        required=True,
        help="the statement: that the organisation owns the device and allows these checks "
        "(e.g. a ticket or approval reference)",
    )
    p.set_defaults(handler=add_command)

    p = dsub.add_parser("list", help="devices with their last check")
    add_data_option(p)
    p.set_defaults(handler=list_command)

    p = dsub.add_parser(
        "check", help="mark every device due for the server's check, or check now (--now)"
    )
    add_data_option(p)
    p.add_argument("--now", action="store_true", help="check here and now and print a summary")
    p.add_argument("--id", type=int, default=None, help="with --now: only this device")
    p.set_defaults(handler=check_command)

    p = dsub.add_parser("remove", help="remove a device with its results and alerts")
    add_data_option(p)
    p.add_argument("device_id", type=int, help="the device's id (see 'device list')")
    p.set_defaults(handler=remove_command)

    p = dsub.add_parser(
        "key", help="print the organisation's SSH public key (for the devices' authorized_keys)"
    )
    add_data_option(p)
    p.set_defaults(handler=key_command)


def _fail(message: str) -> int:
    print(f"xunjian server device: {message}", file=sys.stderr)
    return 1


def _record(config: ServerConfig, data: Path, action: str, target: str, details: dict) -> None:
    engine = make_engine(config.database_url)
    try:
        log = OperationLog(engine, data, OplogSettings.from_config(config))
        log.append(
            EntryFields.make(action, actor=cli_actor(), role="cli", target=target, details=details)
        )
    except Exception as exc:  # the command's own work is done; say the entry is missing
        print(f"xunjian server device: operation log entry {action} not written: {exc}")
    finally:
        engine.dispose()


def add_command(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.data)
        new = validate(
            args.address,
            args.port,
            args.type,
            args.label or "",
            args.key_user,
            args.authorised_by,
            args.authorisation,
        )
    except (ConfigError, DeviceError) as exc:
        return _fail(str(exc))
    engine = make_engine(config.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            device = add_device(session, new, cli_actor())
            session.commit()
            device_id, host_id = device.id, device.agent_id
    except DeviceError as exc:
        return _fail(str(exc))
    except SQLAlchemyError as exc:
        return _fail(f"cannot store the device: {exc}")
    finally:
        engine.dispose()
    _record(
        config,
        args.data,
        "device.add",
        f"device:{device_id}",
        {
            "address": new.address,
            "port": new.port,
            "type": new.type,
            "authorised_by": new.authorised_by,
            "authorisation": new.authorisation,
        },
    )
    print(f"device {device_id} added: {new.type} {new.address}:{new.port} ({new.label})")
    print(f"host id {host_id}; authorised by {new.authorised_by}")
    print("the server checks it at its next device sweep; 'xunjian server device check --now'")
    print("checks every device at once")
    return 0


def list_command(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.data)
    except ConfigError as exc:
        return _fail(str(exc))
    engine = make_engine(config.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            rows = [device.summary() for device in list_devices(session)]
    finally:
        engine.dispose()
    if not rows:
        print("no devices; add one with 'xunjian server device add ADDRESS --type TYPE ...'")
        return 0
    print(f"{'ID':>4}  {'TYPE':7} {'ADDRESS':28} {'LAST CHECK':20} OUTCOME")
    for row in rows:
        where = f"{row['address']}:{row['port']}"
        when = (row["last_checked_at"] or "never")[:19]
        outcome = row["last_outcome"] or "-"
        if row["default_credential_user"]:
            outcome += f" (user {row['default_credential_user']})"
        print(f"{row['id']:>4}  {row['type']:7} {where:28} {when:20} {outcome}")
    return 0


def check_command(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.data)
    except ConfigError as exc:
        return _fail(str(exc))
    engine = make_engine(config.database_url)
    try:
        sessions = make_sessionmaker(engine)
        if not args.now:
            with sessions() as session:
                count = mark_all_due(session)
                session.commit()
            _record(config, args.data, "device.check.schedule", "devices", {"devices": count})
            print(f"{count} device(s) due; the running server checks them at its next sweep")
            return 0
        with sessions() as session:
            ids = [device.id for device in list_devices(session)]
        if args.id is not None:
            if args.id not in ids:
                return _fail(f"no device {args.id}")
            ids = [args.id]
        summaries: list[CheckSummary] = []
        busy: list[str] = []
        me = worker_name()
        for device_id in ids:
            with sessions() as session:
                outcome = check_now(engine, session, device_id, config, args.data, me)
            if isinstance(outcome, str):
                busy.append(outcome)
                print(outcome)
            else:
                summaries.append(outcome)
                print(outcome.line())
    except SQLAlchemyError as exc:
        return _fail(f"database error: {exc}")
    finally:
        engine.dispose()
    details: dict[str, Any] = {
        "checked": len(summaries),
        "busy": len(busy),
        "default_credential": [s.device_id for s in summaries if s.outcome == "default_credential"],
    }
    _record(config, args.data, "device.check.now", "devices", details)
    found = len(details["default_credential"])
    print(
        f"{len(summaries)} device(s) checked, {found} accept a vendor-default credential"
        + (f", {len(busy)} busy" if busy else "")
    )
    return 0


def remove_command(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.data)
    except ConfigError as exc:
        return _fail(str(exc))
    engine = make_engine(config.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            device = remove_device(session, args.device_id)
            if device is None:
                return _fail(f"no device {args.device_id}")
            where = f"{device.address}:{device.port}"
            session.commit()
    except SQLAlchemyError as exc:
        return _fail(f"database error: {exc}")
    finally:
        engine.dispose()
    _record(config, args.data, "device.remove", f"device:{args.device_id}", {"address": where})
    print(f"device {args.device_id} ({where}) removed with its results and alerts")
    return 0


def key_command(args: argparse.Namespace) -> int:
    try:
        load_config(args.data)
        line = public_key_line(args.data)
    except (ConfigError, OSError, ValueError) as exc:
        return _fail(str(exc))
    print(line)
    return 0
