"""What a running app holds: its config, data folder and database. Blueprints reach it through
``current_state()`` instead of module globals, so several apps can live in one process (tests)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.config import DataPaths, ServerConfig
from server.peer import Peer, resolve_peer

EXTENSION_KEY = "xunjian"
refusals = logging.getLogger("xunjian.server.refused")
events = logging.getLogger("xunjian.server.events")


@dataclass(frozen=True)
class ServerState:
    config: ServerConfig
    paths: DataPaths
    engine: Engine
    sessions: sessionmaker[Session]


def current_state() -> ServerState:
    state: ServerState = current_app.extensions[EXTENSION_KEY]
    return state


@contextmanager
def db_session() -> Iterator[Session]:
    with current_state().sessions() as session:
        yield session


def request_peer() -> Peer:
    """The client of the current request: the TCP peer, or the client a trusted reverse proxy
    names in its headers (config ``trusted_proxies``; server/peer.py)."""
    state = current_app.extensions.get(EXTENSION_KEY)
    trusted = state.config.trusted_proxies if isinstance(state, ServerState) else ()
    return resolve_peer(request.environ, trusted)


def client_address() -> str:
    """``address:port`` of the client: POLICY.md E12 wants the source port in the logs."""
    return request_peer().text()


def log_refusal(status: int, reason: str) -> None:
    refusals.warning(
        "refused %s %s %s from %s: %s",
        status,
        request.method,
        request.path,
        client_address(),
        reason,
    )


def refuse(status: int, reason: str, public_reason: str | None = None) -> ResponseReturnValue:
    """A JSON refusal with a log line. ``public_reason`` hides detail from the client where the
    detail would help an attacker (which of token unknown / expired / used up, for instance)."""
    log_refusal(status, reason)
    return jsonify({"error": public_reason or reason}), status
