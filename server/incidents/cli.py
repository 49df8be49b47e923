"""``xunjian server incident open|list|show|note|ack|close|report``: the parser (``add_parser``)
and the commands. Each change is recorded in the operation log as ``incident.open``,
``incident.note``, ``incident.ack``, ``incident.close`` (refusals included), a report as
``incident.report`` (A1); actor ``cli:<os user>``. Exit status 0, or 1 with the reason."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from server.commands import add_data_option, cli_actor, fail, record_command, store_session
from server.config import ConfigError, ServerConfig, load_config, local_time
from server.incidents.models import STATUSES, TEXT_LENGTH, TITLE_LENGTH, Incident, status_of
from server.incidents.report import build_report
from server.incidents.store import (
    IncidentError,
    acknowledge,
    add_note,
    clean_text,
    close,
    load_record,
    open_incident,
    where_status,
)
from xunjian.core.contract import SEVERITIES

COMMAND = "xunjian server incident"


def _with_config(
    command: Callable[[argparse.Namespace, ServerConfig], int],
) -> Callable[[argparse.Namespace], int]:
    """The command, given the server's config.json; every one of them needs it, and fails with
    the reason (exit status 1) when it is missing or bad."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            config = load_config(args.data)
        except ConfigError as exc:
            return fail(str(exc), COMMAND)
        return command(args, config)

    return run


def _positive_id(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise argparse.ArgumentTypeError(f"an id is a positive whole number, not {text!r}")
    return int(text)


def _text(limit: int) -> object:
    def check(text: str) -> str:
        cleaned = clean_text(text, limit)
        if cleaned is None:
            raise argparse.ArgumentTypeError(f"a text is 1..{limit} characters")
        return cleaned

    return check


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """``incident`` under ``xunjian server``."""
    incident = subparsers.add_parser(
        "incident", help="incidents: open from an alert, notes, acknowledge, close, report"
    )
    isub = incident.add_subparsers(dest="incident_command", required=True, metavar="COMMAND")

    p = isub.add_parser(
        "open",
        help="open an incident from an alert (or for a host); the on-call roster is told "
        "until someone acknowledges it",
    )
    add_data_option(p)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--alert", type=_positive_id, metavar="ID", help="the alert")
    source.add_argument(
        "--host", metavar="AGENT_ID", help="a host (see `xunjian server agent list`)"
    )
    p.add_argument("--title", type=_text(TITLE_LENGTH), default=None, help="default: the alert's")
    p.add_argument(
        "--severity", choices=SEVERITIES, default=None, help="default: the alert's, else high"
    )
    p.add_argument("--note", type=_text(TEXT_LENGTH), default=None, help="a first note")
    p.set_defaults(handler=open_command)

    p = isub.add_parser("list", help="incidents, newest first")
    add_data_option(p)
    p.add_argument("--status", choices=(*STATUSES, "all"), default="all")
    p.set_defaults(handler=list_command)

    p = isub.add_parser("show", help="one incident with its timeline")
    add_data_option(p)
    p.add_argument("id", type=_positive_id)
    p.set_defaults(handler=show_command)

    p = isub.add_parser("note", help="add a note to an incident's timeline")
    add_data_option(p)
    p.add_argument("id", type=_positive_id)
    p.add_argument("text", type=_text(TEXT_LENGTH))
    p.set_defaults(handler=note_command)

    for name, helptext in (
        ("ack", "acknowledge an incident: its escalation stops"),
        ("close", "close an incident"),
    ):
        p = isub.add_parser(name, help=helptext)
        add_data_option(p)
        p.add_argument("id", type=_positive_id)
        p.add_argument("--note", type=_text(TEXT_LENGTH), default=None)
        p.set_defaults(handler=change_command, action=name)

    p = isub.add_parser("report", help="the incident report (Chinese, DOCX) to print and sign")
    add_data_option(p)
    p.add_argument("id", type=_positive_id)
    p.add_argument("--out", type=Path, required=True, help="the .docx file to write")
    p.set_defaults(handler=report_command)


@_with_config
def open_command(args: argparse.Namespace, config: ServerConfig) -> int:
    with store_session(config) as session:
        source = f"alert:{args.alert}" if args.alert is not None else f"agent:{args.host}"
        try:
            opened = open_incident(
                session,
                cli_actor(),
                alert_id=args.alert,
                host_id=args.host,
                title=args.title,
                severity=args.severity,
                note=args.note,
            )
        except IncidentError as exc:
            return record_command(config, args, "incident.open", source, refused=str(exc))
        incident_id, title = opened.incident.id, opened.incident.title
    print(f"incident {incident_id} opened from {source}: {title}")
    return record_command(
        config, args, "incident.open", f"incident:{incident_id}", {"from": source}
    )


@_with_config
def list_command(args: argparse.Namespace, config: ServerConfig) -> int:
    with store_session(config) as session:
        incidents = list(
            session.scalars(
                where_status(select(Incident), args.status).order_by(Incident.id.desc())
            )
        )
    # Times in the one zone of the product, named above the table (issue 13 item 6).
    zone = config.console_timezone
    print(f"times in {zone}")
    print(f"{'id':>5}  {'state':12}  {'severity':8}  {'opened':16}  {'host':20}  title")
    for incident in incidents:
        state = status_of(incident)
        opened = local_time(incident.opened_at, zone)
        print(
            f"{incident.id:>5}  {state:12}  {incident.severity:8}  "
            f"{opened:16}  {incident.hostname[:20]:20}  {incident.title}"
        )
    return 0


@_with_config
def show_command(args: argparse.Namespace, config: ServerConfig) -> int:
    with store_session(config) as session:
        try:
            record = load_record(session, args.id)
        except IncidentError as exc:
            return fail(str(exc), COMMAND)
        incident = record.incident
        print(f"incident {incident.id}: {incident.title}")
        host = incident.hostname or "-"
        print(f"state {status_of(incident)}, severity {incident.severity}, host {host}")
        print(f"alerts: {', '.join(str(alert.id) for alert in record.alerts) or '-'}")
        print(f"timeline (times in {config.console_timezone}):")
        for event in record.timeline:
            at = local_time(event.at, config.console_timezone, seconds=True)
            print(f"  {at}  {event.kind:12}  {event.actor}: {event.text}")
    return 0


@_with_config
def note_command(args: argparse.Namespace, config: ServerConfig) -> int:
    with store_session(config) as session:
        try:
            add_note(session, args.id, cli_actor(), args.text)
        except IncidentError as exc:
            return record_command(
                config, args, "incident.note", f"incident:{args.id}", refused=str(exc)
            )
    print(f"note added to incident {args.id}")
    return record_command(config, args, "incident.note", f"incident:{args.id}")


@_with_config
def change_command(args: argparse.Namespace, config: ServerConfig) -> int:
    action = f"incident.{args.action}"
    with store_session(config) as session:
        try:
            if args.action == "ack":
                acknowledge(session, args.id, cli_actor(), args.note)
            else:
                close(session, args.id, cli_actor(), args.note)
        except IncidentError as exc:
            return record_command(config, args, action, f"incident:{args.id}", refused=str(exc))
    print(f"incident {args.id}: {'acknowledged' if args.action == 'ack' else 'closed'}")
    return record_command(config, args, action, f"incident:{args.id}")


@_with_config
def report_command(args: argparse.Namespace, config: ServerConfig) -> int:
    with store_session(config) as session:
        try:
            record = load_record(session, args.id)
        except IncidentError as exc:
            return fail(str(exc), COMMAND)
        document = build_report(record, timezone=config.console_timezone, generated_by=cli_actor())
    try:
        args.out.write_bytes(document)
    except OSError as exc:
        return fail(f"cannot write {args.out}: {exc}", COMMAND)
    print(
        f"incident {args.id}: report written to {args.out} ({len(document)} bytes)", file=sys.stdout
    )
    return record_command(
        config, args, "incident.report", f"incident:{args.id}", {"out": str(args.out)}
    )
