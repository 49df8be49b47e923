"""``xunjian server ...``: ``init`` and ``run`` here, and every feature's own commands, which
each feature's ``cli.py`` adds with its parser and the functions it runs (``add_parser``).
``xunjian/cli.py`` imports this module only for ``xunjian server`` (``add_arguments``), so the
agent's commands never import the server's dependencies.

Each command prints what a person needs next, and secrets only once. Exit status 0 on success,
1 on a failure the command explains.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import shlex
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from server.commands import add_data_option, fail
from server.config import (
    DEFAULT_SERVER_URL,
    ConfigError,
    DataPaths,
    ServerConfig,
    load_config,
    write_private,
)
from server.oplog.signing import ensure_signing_key
from server.pki import create_pki
from server.security import new_password
from server.store.accounts import create_user
from server.store.agents import DEFAULT_GROUP, get_or_create_group
from server.store.engine import make_engine, make_sessionmaker
from server.store.migrate import upgrade_database
from server.store.models import User
from xunjian.core.paths import remember_server_data
from xunjian.core.wire import certificate_sha256

FIRST_ADMIN = "admin"


def add_arguments(server: argparse.ArgumentParser) -> None:
    """The commands under ``xunjian server``: init and run, then each feature's."""
    from server.devices import cli as devices
    from server.evidence import cli as evidence
    from server.files import cli as files
    from server.fleet import cli as fleet
    from server.incidents import cli as incidents
    from server.isolation import cli as isolation
    from server.monitors import cli as monitors
    from server.oplog import cli as oplog
    from server.reports import cli as reports
    from server.settings import cli as settings
    from server.sites import cli as sites

    subparsers = server.add_subparsers(dest="server_command", required=True, metavar="COMMAND")
    p = subparsers.add_parser("init", help="create the data folder, CA, database and first admin")
    add_data_option(p)
    p.set_defaults(data_from_pointer=False)
    p.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL (default: SQLite in the data folder); e.g. postgresql+psycopg://...",
    )
    p.add_argument(
        "--server-url",
        default=None,
        help="URL agents use to reach this server (default: https://127.0.0.1:8443)",
    )
    p.add_argument(
        "--hostname",
        action="append",
        default=[],
        help="extra DNS name or IP for the server certificate (repeatable)",
    )
    p.set_defaults(handler=init_command)

    p = subparsers.add_parser("run", help="serve the console and the agent API over HTTPS")
    add_data_option(p)
    p.add_argument("--listen", default="127.0.0.1:8443", help="HOST:PORT (default 127.0.0.1:8443)")
    p.add_argument(
        "--verbose",
        action="store_true",
        help="also log database migrations and dropped TLS handshakes",
    )
    p.set_defaults(handler=run_command)

    for feature in (
        settings, fleet, isolation, oplog, devices, reports, monitors, sites, files, incidents,
        evidence,
    ):  # fmt: skip
        feature.add_parser(subparsers)


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


def _quiet_migrations(verbose: bool = False) -> None:
    """Alembic's lines (two, then one per migration) only when asked for: on a first start
    they were a screenful between the person and the console's address."""
    logging.getLogger("alembic").setLevel(logging.INFO if verbose else logging.WARNING)


def _prepare_database(config: ServerConfig, password: str) -> str | None:
    """Migrate the database and add the first admin; the problem in words, or None."""
    try:
        _create_private_sqlite_file(config.database_url)
    except OSError as exc:
        return f"cannot prepare the database: {exc}"
    engine = make_engine(config.database_url)
    _quiet_migrations()
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
        return fail(problem)
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
        return fail(problem)
    create_pki(paths, list(args.hostname))
    ensure_signing_key(root)  # DATA/oplog-signing.key (0600) and .pub for auditors
    write_private(paths.secret_key, secrets.token_hex(32).encode() + b"\n")
    write_private(paths.initial_password, password.encode() + b"\n")
    # Written last: a config.json means the folder is complete.
    write_private(paths.config, config.to_json().encode())
    remember_server_data(root)  # the other commands find this folder without --data

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
        return fail(str(exc))
    engine = make_engine(config.database_url)
    try:
        # Brings an older database up to this version's schema; a no-op when it is current.
        _quiet_migrations(args.verbose)
        upgrade_database(engine)
    except SQLAlchemyError as exc:
        return fail(f"cannot open the database {_safe_url(config.database_url)}: {exc}")
    finally:
        engine.dispose()
    remember_server_data(args.data)  # the other commands then work on this folder
    return serve(args.data, host, port, config.workers, args.verbose)
