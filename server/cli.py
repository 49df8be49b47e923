"""Bodies of ``xunjian server ...`` (the parsing is in ``xunjian/cli.py``).

Each command prints what a person needs next, and secrets only once. Exit status 0 on success,
1 on a failure the command explains.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import re
import secrets
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from server.api import MAX_PAGE
from server.config import (
    DEFAULT_SERVER_URL,
    ConfigError,
    DataPaths,
    ServerConfig,
    load_config,
    write_private,
)
from server.oplog.cli import record_cli_action
from server.oplog.signing import ensure_signing_key
from server.pki import create_pki
from server.security import new_password, token_prefix
from server.store.accounts import AccountError, create_api_token, create_user, user_by_name
from server.store.agents import (
    DEFAULT_GROUP,
    create_enrollment_token,
    get_or_create_group,
    revoke_agent,
)
from server.store.engine import make_engine, make_sessionmaker
from server.store.migrate import upgrade_database
from server.store.models import DEVICE_PLATFORM, Agent, HostBaseline, User
from server.store.queries import list_hosts
from xunjian.core.contract import UUID_PATTERN
from xunjian.core.wire import certificate_sha256

FIRST_ADMIN = "admin"
MAX_TOKEN_LIFETIME = datetime.timedelta(days=365)
_LIFETIME = re.compile(r"([1-9][0-9]{0,6})([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _fail(message: str) -> int:
    print(f"xunjian server: {message}", file=sys.stderr)
    return 1


def _safe_url(database_url: str) -> str:
    return make_url(database_url).render_as_string(hide_password=True)


def _check_new_folder(root: Path) -> str | None:
    paths = DataPaths(root)
    if paths.config.exists():
        return f"{root} is already initialised ({paths.config} exists); refusing to overwrite it"
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        return f"{root} exists and is not an empty folder; choose a new one"
    return None


def _create_private_sqlite_file(database_url: str) -> None:
    """An embedded database holds password hashes: create its file 0600 before SQLite does
    (SQLite gives its -wal and -shm files the same mode as the database file)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database)
        if not path.exists():
            write_private(path, b"")


def _prepare_database(config: ServerConfig, password: str) -> str | None:
    """Migrate the database and add the first admin; the problem in words, or None."""
    try:
        _create_private_sqlite_file(config.database_url)
    except OSError as exc:
        return f"cannot prepare the database: {exc}"
    engine = make_engine(config.database_url)
    try:
        upgrade_database(engine)
        with make_sessionmaker(engine)() as session:
            if session.scalar(select(func.count()).select_from(User)):
                return (
                    f"the database {_safe_url(config.database_url)} already has users; "
                    "give each data folder a database of its own"
                )
            create_user(session, FIRST_ADMIN, "admin", password)
            get_or_create_group(session, DEFAULT_GROUP)
            session.commit()
    except SQLAlchemyError as exc:
        return f"cannot prepare the database {_safe_url(config.database_url)}: {exc}"
    finally:
        engine.dispose()
    return None


def init_command(args: argparse.Namespace) -> int:
    root: Path = args.data
    problem = _check_new_folder(root)
    if problem:
        return _fail(problem)
    paths = DataPaths(root)
    folder_existed = root.exists()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    root.chmod(0o700)  # mkdir's mode is filtered by the umask; the folder holds keys
    config = ServerConfig(
        database_url=args.database_url or paths.default_database_url(),
        server_url=args.server_url or DEFAULT_SERVER_URL,
    )
    # The database first: it is the step that can fail (a wrong URL, a database in use), and
    # then the folder is left as it was found, so the same command can simply be run again.
    password = new_password()
    problem = _prepare_database(config, password)
    if problem:
        for leftover in sorted(root.iterdir(), reverse=True):
            leftover.unlink()
        if not folder_existed:
            root.rmdir()
        return _fail(problem)
    create_pki(paths, list(args.hostname))
    ensure_signing_key(root)  # DATA/oplog-signing.key (0600) and .pub for auditors
    write_private(paths.secret_key, secrets.token_hex(32).encode() + b"\n")
    write_private(paths.initial_password, password.encode() + b"\n")
    # Written last: a config.json means the folder is complete.
    write_private(paths.config, config.to_json().encode())

    ca_hash = certificate_sha256(paths.ca_cert.read_bytes())
    print(
        f"xunjian server initialised in {root}\n"
        f"  database:  {_safe_url(config.database_url)}\n"
        f"  CA:        {paths.ca_cert} (sha256 {ca_hash})\n"
        f"  start:     xunjian server run --data {shlex.quote(str(root))}\n"
        f"  console:   {config.server_url}/ , user {FIRST_ADMIN}; the password below is kept in\n"
        f"             {paths.initial_password} and must be changed at first login\n"
        f"  password:  {password}"
    )
    return 0


def run_command(args: argparse.Namespace) -> int:
    from server.serve import ListenError, parse_listen, serve

    try:
        host, port = parse_listen(args.listen)
        config = load_config(args.data)
    except (ListenError, ConfigError) as exc:
        return _fail(str(exc))
    engine = make_engine(config.database_url)
    try:
        # Brings an older database up to this version's schema; a no-op when it is current.
        upgrade_database(engine)
    except SQLAlchemyError as exc:
        return _fail(f"cannot open the database {_safe_url(config.database_url)}: {exc}")
    finally:
        engine.dispose()
    return serve(args.data, host, port, config.workers)


def parse_lifetime(text: str) -> datetime.timedelta:
    match = _LIFETIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"--expires wants a lifetime such as 30m, 24h or 7d, not {text!r}")
    lifetime = datetime.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if lifetime > MAX_TOKEN_LIFETIME:
        raise ValueError("--expires may be at most 365d")
    return lifetime


@contextlib.contextmanager
def store_session(config: ServerConfig) -> Iterator[Session]:
    """A session on the configured database for one command; the engine goes with it."""
    engine = make_engine(config.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _open(args: argparse.Namespace) -> tuple[ServerConfig, DataPaths]:
    return load_config(args.data), DataPaths(args.data)


def _record(
    config: ServerConfig,
    args: argparse.Namespace,
    action: str,
    target: str,
    details: dict[str, object] | None = None,
    refused: str = "",
) -> int:
    """Append the command's operation log entry (POLICY.md E12, after its own commit); 0, or
    1 with the reason on stderr when the entry could not be written. ``refused``: the command
    changed nothing, for this reason (which is also the failure it reports)."""
    problem = record_cli_action(
        config,
        args.data,
        action,
        target=target,
        outcome="refused" if refused else "ok",
        reason=refused,
        details=details,
    )
    if refused:
        return _fail(refused if problem is None else f"{refused}; {problem}")
    if problem is not None:
        return _fail(f"done, but {problem}")
    return 0


def token_create_command(args: argparse.Namespace) -> int:
    try:
        config, paths = _open(args)
        lifetime = parse_lifetime(args.expires)
    except (ConfigError, ValueError) as exc:
        return _fail(str(exc))
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", args.group):
        return _fail("--group is 1..64 letters, digits, '_', '.', '-'")
    with store_session(config) as session:
        token = create_enrollment_token(session, args.group, args.uses, lifetime)
        session.commit()
    details = {
        "group": args.group,
        "uses": args.uses,
        "expires_seconds": int(lifetime.total_seconds()),
        "prefix": token_prefix(token),
    }
    status = _record(config, args, "cli.enrollment_token.create", f"group:{args.group}", details)
    expires = (datetime.datetime.now(datetime.UTC) + lifetime).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"Enrollment token for group {args.group}: {args.uses} use(s), expires {expires}.\n"
        f"Run this on each host to enroll it:\n"
        f"{enroll_line(args.server_url or config.server_url, token, paths)}"
    )
    return status


def enroll_line(server_url: str, token: str, paths: DataPaths) -> str:
    """The command a person pastes on a host to enroll it (CLI and console print the same)."""
    ca_hash = certificate_sha256(paths.ca_cert.read_bytes())
    return (
        f"xunjian agent enroll --server {shlex.quote(server_url)} --token {token} "
        f"--ca-sha256 {ca_hash}"
    )


def user_add_command(args: argparse.Namespace) -> int:
    try:
        config, _paths = _open(args)
    except ConfigError as exc:
        return _fail(str(exc))
    password = new_password()
    target = f"user:{args.name[:64]}"
    details = {"role": args.role}
    try:
        with store_session(config) as session:
            create_user(session, args.name, args.role, password)
            session.commit()
    except AccountError as exc:
        return _record(config, args, "cli.user.create", target, details, refused=str(exc))
    status = _record(config, args, "cli.user.create", target, details)
    print(
        f"User {args.name} ({args.role}) created. It must choose a new password at first login.\n"
        f"One-time password: {password}"
    )
    return status


def apitoken_create_command(args: argparse.Namespace) -> int:
    try:
        config, _paths = _open(args)
    except ConfigError as exc:
        return _fail(str(exc))
    action, target = "cli.api_token.create", f"user:{args.user[:64]}"
    with store_session(config) as session:
        user = user_by_name(session, args.user)
        if user is not None:
            token = create_api_token(session, user, args.name)
            role = user.role
            session.commit()
    if user is None:
        refused = f"no user {args.user!r}; add one with 'xunjian server user add'"
        return _record(config, args, action, target, refused=refused)
    details = {"name": args.name[:100], "role": role, "prefix": token_prefix(token)}
    status = _record(config, args, action, target, details)
    print(
        f"API token for {args.user} ({role}); it is shown only now, store it safely.\n"
        f"Use it as 'Authorization: Bearer <token>'. Token: {token}"
    )
    return status


def agent_list_command(args: argparse.Namespace) -> int:
    try:
        config, _paths = _open(args)
    except ConfigError as exc:
        return _fail(str(exc))
    with store_session(config) as session:
        rows, total = list_hosts(session, config.offline_after_seconds, MAX_PAGE, 0)
    print(f"{'agent id':36}  {'hostname':24}  {'group':12}  {'state':8}  last seen")
    for row in rows:
        state = "revoked" if row.revoked else ("online" if row.online else "offline")
        if not row.revoked and row.platform == DEVICE_PLATFORM:
            state = "device"
        last_seen = row.last_seen.strftime("%Y-%m-%d %H:%M") if row.last_seen else "never"
        print(f"{row.id:36}  {row.hostname[:24]:24}  {row.group[:12]:12}  {state:8}  {last_seen}")
    if total > len(rows):
        print(f"... {total - len(rows)} more; the console and GET /api/v1/hosts page through all")
    return 0


def _on_one_agent(
    args: argparse.Namespace,
    action: str,
    change: Callable[[Session, str], int],
    details: Callable[[int], dict[str, object]],
) -> tuple[int, int | None]:
    """Open the store and run ``change`` for the agent named by ``args.agent_id`` in one
    transaction, then record ``action`` in the operation log (a refusal too). Returns (exit
    status, what ``change`` returned: rows changed, or None when it did not run)."""
    try:
        config, _paths = _open(args)
    except ConfigError as exc:
        return _fail(str(exc)), None
    target = f"agent:{args.agent_id[:64]}"
    if not re.fullmatch(UUID_PATTERN, args.agent_id):
        refused = f"{args.agent_id!r} is not an agent id (see 'xunjian server agent list')"
        return _record(config, args, action, target, refused=refused), None
    with store_session(config) as session:
        known = session.get(Agent, args.agent_id) is not None
        changed = change(session, args.agent_id) if known else 0
        session.commit()
    if not known:
        return _record(config, args, action, target, refused=f"no agent {args.agent_id}"), None
    return _record(config, args, action, target, details(changed)), changed


def agent_revoke_command(args: argparse.Namespace) -> int:
    status, changed = _on_one_agent(
        args,
        "cli.agent.revoke",
        lambda session, agent_id: int(revoke_agent(session, agent_id)),
        lambda changed: {"already_revoked": not changed},
    )
    if changed is None:
        return status
    if not changed:
        print(f"agent {args.agent_id} was already revoked")
        return status
    print(
        f"agent {args.agent_id} revoked: the server refuses its requests from now on. "
        "To bring the host back, enroll it again with a new token."
    )
    return status


def _forget_baseline(session: Session, agent_id: str) -> int:
    return int(
        session.execute(delete(HostBaseline).where(HostBaseline.agent_id == agent_id)).rowcount
    )


def agent_rebaseline_command(args: argparse.Namespace) -> int:
    """After an administrator has approved what a host gained (accounts, software), the
    baseline checks should stop reporting it: the host's next inventory becomes its baseline."""
    status, forgotten = _on_one_agent(
        args,
        "cli.agent.rebaseline",
        _forget_baseline,
        lambda forgotten: {"baseline_rows_forgotten": forgotten},
    )
    if forgotten is None:
        return status
    if forgotten:
        print(
            f"baseline of agent {args.agent_id} forgotten; its next inventory becomes the new one"
        )
    else:
        print(f"agent {args.agent_id} had no baseline yet; its next inventory becomes one")
    return status
