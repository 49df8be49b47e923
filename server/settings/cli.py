"""``xunjian server token create``, ``user add`` and ``apitoken create``: enrollment tokens,
console accounts and API tokens from the server's shell (the console's Settings pages do the
same). Each prints what a person needs next, and its secret only once; each is recorded in the
operation log."""

from __future__ import annotations

import argparse
import datetime
import re

from server.commands import add_data_option, fail, open_data, record_command, store_session
from server.config import ConfigError, local_time
from server.security import new_password, token_prefix
from server.settings.tokens import enroll_line, parse_lifetime
from server.store.accounts import AccountError, create_api_token, create_user, user_by_name
from server.store.agents import create_enrollment_token


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """``token``, ``user`` and ``apitoken`` under ``xunjian server``."""
    token = subparsers.add_parser("token", help="enrollment tokens")
    tsub = token.add_subparsers(dest="token_command", required=True, metavar="COMMAND")
    p = tsub.add_parser("create", help="create an enrollment token and print the enroll line")
    add_data_option(p)
    p.add_argument("--uses", type=_positive_int, default=1, help="how many agents may use it")
    p.add_argument("--expires", default="24h", help="lifetime such as 30m, 24h, 7d (default 24h)")
    p.add_argument("--group", default="default", help="group the enrolled agents join")
    p.add_argument("--server-url", default=None, help="URL agents use (default: from config)")
    p.set_defaults(handler=token_create_command)

    user = subparsers.add_parser("user", help="console accounts")
    usub = user.add_subparsers(dest="user_command", required=True, metavar="COMMAND")
    p = usub.add_parser("add", help="add a console account; prints its one-time password")
    add_data_option(p)
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=["admin", "operator", "auditor"])
    p.set_defaults(handler=user_add_command)

    apitoken = subparsers.add_parser("apitoken", help="API tokens for scripts and auditors")
    asub = apitoken.add_subparsers(dest="apitoken_command", required=True, metavar="COMMAND")
    p = asub.add_parser("create", help="create an API token for a user; printed once")
    add_data_option(p)
    p.add_argument("--user", required=True)
    p.add_argument("--name", default="", help="what the token is for")
    p.set_defaults(handler=apitoken_create_command)


def token_create_command(args: argparse.Namespace) -> int:
    try:
        config, paths = open_data(args)
        lifetime = parse_lifetime(args.expires)
    except (ConfigError, ValueError) as exc:
        return fail(str(exc))
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", args.group):
        return fail("--group is 1..64 letters, digits, '_', '.', '-'")
    with store_session(config) as session:
        token = create_enrollment_token(session, args.group, args.uses, lifetime)
        session.commit()
    details = {
        "group": args.group,
        "uses": args.uses,
        "expires_seconds": int(lifetime.total_seconds()),
        "prefix": token_prefix(token),
    }
    status = record_command(
        config, args, "cli.enrollment_token.create", f"group:{args.group}", details
    )
    expires = local_time(
        datetime.datetime.now(datetime.UTC) + lifetime, config.console_timezone, named=True
    )
    print(
        f"Enrollment token for group {args.group}: {args.uses} use(s), expires {expires}.\n"
        f"Run this on each host to enroll it:\n"
        f"{enroll_line(args.server_url or config.server_url, token, paths)}"
    )
    return status


def user_add_command(args: argparse.Namespace) -> int:
    try:
        config, _paths = open_data(args)
    except ConfigError as exc:
        return fail(str(exc))
    password = new_password()
    target = f"user:{args.name[:64]}"
    details = {"role": args.role}
    try:
        with store_session(config) as session:
            create_user(session, args.name, args.role, password)
            session.commit()
    except AccountError as exc:
        return record_command(config, args, "cli.user.create", target, details, refused=str(exc))
    status = record_command(config, args, "cli.user.create", target, details)
    print(
        f"User {args.name} ({args.role}) created. It must choose a new password at first login.\n"
        f"One-time password: {password}"
    )
    return status


def apitoken_create_command(args: argparse.Namespace) -> int:
    try:
        config, _paths = open_data(args)
    except ConfigError as exc:
        return fail(str(exc))
    action, target = "cli.api_token.create", f"user:{args.user[:64]}"
    with store_session(config) as session:
        user = user_by_name(session, args.user)
        if user is not None:
            token = create_api_token(session, user, args.name)
            role = user.role
            session.commit()
    if user is None:
        refused = f"no user {args.user!r}; add one with 'xunjian server user add'"
        return record_command(config, args, action, target, refused=refused)
    details = {"name": args.name[:100], "role": role, "prefix": token_prefix(token)}
    status = record_command(config, args, action, target, details)
    print(
        f"API token for {args.user} ({role}); it is shown only now, store it safely.\n"
        f"Use it as 'Authorization: Bearer <token>'. Token: {token}"
    )
    return status
