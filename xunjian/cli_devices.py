"""``xunjian server device ...``: the parsers (bodies in ``server/devices/cli.py``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

DEVICE_TYPES = ("router", "ap", "nas", "switch", "linux")  # server/devices/models.py


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1..65535, not {text!r}")
    return int(text)


def add_server_parsers(
    ssub: argparse._SubParsersAction,
    add_data: Callable[[argparse.ArgumentParser], None],
    lazy: Callable[[str], Callable[[argparse.Namespace], int]],
) -> None:
    device = ssub.add_parser(
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
    add_data(p)
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
    p.set_defaults(handler=lazy("server.devices.cli:add_command"))

    p = dsub.add_parser("list", help="devices with their last check")
    add_data(p)
    p.set_defaults(handler=lazy("server.devices.cli:list_command"))

    p = dsub.add_parser(
        "check", help="mark every device due for the server's check, or check now (--now)"
    )
    add_data(p)
    p.add_argument("--now", action="store_true", help="check here and now and print a summary")
    p.add_argument("--id", type=int, default=None, help="with --now: only this device")
    p.set_defaults(handler=lazy("server.devices.cli:check_command"))

    p = dsub.add_parser("remove", help="remove a device with its results and alerts")
    add_data(p)
    p.add_argument("device_id", type=int, help="the device's id (see 'device list')")
    p.set_defaults(handler=lazy("server.devices.cli:remove_command"))

    p = dsub.add_parser(
        "key", help="print the organisation's SSH public key (for the devices' authorized_keys)"
    )
    add_data(p)
    p.set_defaults(handler=lazy("server.devices.cli:key_command"))
