"""The agent API (docs/architecture.md, "The wire"): CA download, enrollment, and the signed
report, policy and heartbeat endpoints, and the page monitors an agent runs for internal-only
sites (its list, and the fetch outcomes it posts: docs/monitors.md).

Every body is decoded with its model from xunjian/core/contract/bodies.py, which also makes these
routes' part of the OpenAPI document (``documented``). Every refusal answers JSON
``{"error": ...}`` (a 400's names the place: ``results[3].status: ...``), logs the reason with
the client's address and source port, and happens before anything is written.
"""

from __future__ import annotations

import datetime
import io
import re
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Blueprint, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Connection
from werkzeug.exceptions import RequestEntityTooLarge

from server.alerts.silent import heartbeat
from server.apidoc import THROTTLED, documented
from server.evidence import intake as evidence_intake
from server.intake.agents import agent_identity, first_use, touch_agent
from server.intake.report import ingest_report
from server.isolation.intake import command_key, take_report
from server.monitors import agent_intake
from server.policy import agent_policy, group_by_id
from server.state import (
    EXTENSION_KEY,
    client_address,
    current_state,
    db_session,
    events,
    log_refusal,
    refuse,
    request_peer,
)
from server.store.agents import AgentIdentity, EnrollmentRefused, enroll_agent
from server.throttle import FailureLimit
from xunjian.core import contract, wire
from xunjian.core.contract import bodies
from xunjian.core.schema import BodyError, convert_query, decode_json

T = TypeVar("T")
blueprint = Blueprint("agent_api", __name__, url_prefix=contract.AGENT_PREFIX)
_UUID = re.compile(contract.UUID_PATTERN)
_TAGS = ["agent"]


def _route(path: str) -> str:
    """A contract path as this blueprint's rule."""
    return path.removeprefix(contract.AGENT_PREFIX)


class Refused(Exception):
    """A request is refused before any change; carries the status and the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@blueprint.errorhandler(Refused)
def _refused(error: Refused) -> ResponseReturnValue:
    return refuse(error.status, error.reason)


# A source whose requests fail authentication this often in a minute (bad signatures, unknown
# or revoked agents, wrong enrollment tokens: every 401) gets 429 for the rest of the minute on
# every agent path, before any work: guessing and floods stay cheap for the server and bounded
# in its logs. An honest agent never fails so often; behind a shared address it retries later.
AUTH_FAILURES_PER_MINUTE = 30
REPLAYED = "replayed request: the same signature within the freshness window"
_FAILURES_KEY = "xunjian.agent_api.auth_failures"


def _failures() -> FailureLimit:
    extensions = current_app.extensions
    limit = extensions.get(_FAILURES_KEY)
    if limit is None:
        limit = extensions.setdefault(_FAILURES_KEY, FailureLimit(AUTH_FAILURES_PER_MINUTE))
    assert isinstance(limit, FailureLimit)
    return limit


@blueprint.before_request
def _throttle_failing_sources() -> ResponseReturnValue | None:
    wait = _failures().blocked(request_peer().address)
    if wait <= 0:
        return None
    log_refusal(429, f"more than {AUTH_FAILURES_PER_MINUTE} failed authentications in a minute")
    response = jsonify({"error": "too many failed requests from this address; try later"})
    response.status_code = 429
    response.headers["Retry-After"] = str(max(int(wait), 1))
    return response


@blueprint.after_request
def _count_failures(response: Response) -> Response:
    if response.status_code == 401:
        _failures().failed(request_peer().address)  # the address: ports change
    return response


# Up to this much of a refused body is read and dropped before the 413 goes out; past it the
# connection is simply closed (the client may then see a reset instead of the answer).
DRAIN_MIN_BYTES = 16 * 1024 * 1024
_DRAIN_CHUNK = 256 * 1024


def _drain(declared: int, bound: int) -> None:
    """Read and drop a body we refuse by its Content-Length. Answering and closing while the
    client still sends makes its kernel see a reset, and the client never reads the 413 it was
    sent; reading a bounded amount first lets an honest client learn why it was refused."""
    if declared > bound:
        return
    stream = request.environ.get("wsgi.input")
    if stream is None:
        return
    left = declared
    try:
        while left > 0:
            chunk = stream.read(min(_DRAIN_CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
    except OSError:
        pass  # the client went away; the refusal is logged either way


def read_body() -> bytes:
    """The raw body, at most ``max_body_bytes``: checked against Content-Length first, then
    enforced while reading, for a client whose Content-Length lies or that sends chunks."""
    limit = current_state().config.max_body_bytes
    declared = request.content_length
    if declared is not None and declared > limit:
        _drain(declared, max(8 * limit, DRAIN_MIN_BYTES))
        raise Refused(413, f"body of {declared} bytes is over the {limit} byte limit")
    try:
        body = request.stream.read(limit + 1)
    except RequestEntityTooLarge as exc:
        raise Refused(413, f"body is over the {limit} byte limit") from exc
    if len(body) > limit:
        raise Refused(413, f"body is over the {limit} byte limit")
    return body


def parse(body: bytes, model: type[T]) -> T:
    try:
        return decode_json(body, model)
    except BodyError as exc:
        raise Refused(400, str(exc)) from exc


def _signed_path() -> str:
    query = request.query_string.decode("latin-1")
    return f"{request.path}?{query}" if query else request.path


@dataclass(frozen=True)
class SignedRequest:
    agent: AgentIdentity
    body: bytes


# Parsed public keys by their stored text (not by agent id: a key that changed is simply another
# entry). Only the parsing is cached; whether the agent exists or is revoked is read from the
# database on every request (for a report on ReportFastPath's path, by the writing transaction
# itself), so a revocation by any process takes effect at once.
_PUBLIC_KEYS: dict[str, Ed25519PublicKey] = {}
_PUBLIC_KEYS_MAX = 100_000


def _public_key(text: str) -> Ed25519PublicKey:
    key = _PUBLIC_KEYS.get(text)
    if key is None:
        key = wire.public_key_from_text(text)
        if len(_PUBLIC_KEYS) >= _PUBLIC_KEYS_MAX:
            _PUBLIC_KEYS.clear()
        _PUBLIC_KEYS[text] = key
    return key


def _once(signed: SignedRequest) -> None:
    """A request that must take effect once: the same signed bytes again within the window
    (a replay) are refused with 409 and change nothing. The agent signs each attempt anew, so
    its own retries pass."""
    state = current_state()
    window = datetime.timedelta(seconds=state.config.freshness_window_seconds)
    signature = request.headers.get(wire.HEADER_SIGNATURE, "")
    if not first_use(state.engine, signature, signed.agent.id, window):
        raise Refused(409, "replayed request: this signature was used already")


def authenticate(connection: Connection | None = None) -> SignedRequest:
    """Verify the signature headers against the enrolled key; refuse with 401 otherwise.

    ``connection``: the request's own, to read the agent on (else one is taken for the read)."""
    body = read_body()
    agent_id = request.headers.get(wire.HEADER_AGENT, "")
    if not agent_id:
        raise Refused(401, f"missing {wire.HEADER_AGENT} header")
    if not _UUID.fullmatch(agent_id):
        raise Refused(401, f"malformed {wire.HEADER_AGENT} header")
    try:
        sent_at = wire.parse_sent_at(request.headers.get(wire.HEADER_TIME))
    except wire.SignatureError as exc:
        raise Refused(401, str(exc)) from exc
    state = current_state()
    if connection is None:
        with state.engine.connect() as own:
            agent = agent_identity(own, agent_id)
    else:
        agent = agent_identity(connection, agent_id)
    if agent is None:
        raise Refused(401, f"unknown agent {agent_id}")
    if agent.revoked:
        raise Refused(401, f"agent {agent_id} is revoked")
    try:
        key = _public_key(agent.public_key)
        wire.verify_request(
            key,
            request.method,
            _signed_path(),
            agent_id,
            sent_at,
            request.headers.get(wire.HEADER_SIGNATURE),
            body,
        )
        _check_freshness(sent_at, state.config.freshness_window_seconds)
    except wire.SignatureError as exc:
        raise Refused(401, f"agent {agent_id}: {exc}") from exc
    # A refusal after this point is of a known agent, not an anonymous flood (oplog hook).
    g.authenticated_agent = agent_id
    return SignedRequest(agent, body)


def _check_freshness(sent_at: int, window: int) -> None:
    if window == wire.FRESHNESS_WINDOW_SECONDS:
        wire.check_freshness(sent_at)
        return
    # A configured window other than the protocol's default (wire.check_freshness fixes it).
    now = time.time()
    if abs(now - sent_at) > window:
        raise wire.SignatureError(
            f"send time {sent_at} is outside the {window}s window (server time {int(now)})"
        )


@blueprint.get(_route(contract.PATH_CA))
@documented(
    "The CA certificate the server's own is issued by (PEM)",
    auth="none",
    tags=_TAGS,
    responses={200: "application/x-pem-file"},
    errors={429: THROTTLED},
)
def ca_certificate() -> Response:
    pem = current_state().paths.ca_cert.read_bytes()
    return Response(pem, mimetype="application/x-pem-file")


@blueprint.post(_route(contract.PATH_ENROLL))
@documented(
    "Enroll an agent with a token; the server assigns its id",
    auth="none",
    tags=_TAGS,
    body=bodies.EnrollRequest,
    responses={201: bodies.EnrollAnswer},
    errors={401: "unknown, expired or used-up enrollment token", 429: THROTTLED},
)
def enroll() -> ResponseReturnValue:
    enrollment = parse(read_body(), bodies.EnrollRequest)
    try:
        wire.public_key_from_text(enrollment.public_key)
    except ValueError as exc:
        raise Refused(400, f"public_key: {exc}") from exc
    try:
        enrolled = enroll_agent(
            current_state().engine, enrollment.token, msgspec.structs.asdict(enrollment)
        )
    except EnrollmentRefused as exc:
        return refuse(401, str(exc), "enrollment token refused: unknown, expired or used up")
    events.info(
        "enrolled agent %s (hostname label %r, group %s) from %s",
        enrolled.agent_id,
        enrollment.hostname,
        enrolled.group,
        client_address(),
    )
    answer = {"agent_id": enrolled.agent_id, "group": enrolled.group, "command_key": command_key()}
    return jsonify(answer), 201


# What jsonify would write for the two answers, made once.
_STORED = b'{"stored":true}\n'
_DUPLICATE = b'{"stored":false,"duplicate":true}\n'


@blueprint.post(_route(contract.PATH_REPORTS))
@documented(
    "Deliver one report (results, inventory, gaps, file events); stored once",
    auth="agent",
    tags=_TAGS,
    body=bodies.Report,
    responses={200: bodies.ReportAnswer},
    description="A retry of a stored report answers stored false, duplicate true: both tell "
    "the agent it may delete the report from its spool. agent_id must equal the signed header.",
)
def reports() -> ResponseReturnValue:
    # The agent is read on a connection of its own, given back before the report waits for the
    # engine's group writer (server/intake/writer.py), which commits it with the others.
    engine = current_state().engine
    with engine.connect() as connection:
        signed = authenticate(connection)
    report = parse(signed.body, bodies.Report)
    if report.agent_id != signed.agent.id:
        raise Refused(400, f"agent_id: does not match the signed {wire.HEADER_AGENT} header")
    outcome = ingest_report(engine, signed.agent.id, report)
    if outcome.refused:  # revoked between the read above and the write
        raise Refused(401, f"agent {signed.agent.id} is revoked")
    return Response(_DUPLICATE if outcome.duplicate else _STORED, mimetype="application/json")


@blueprint.get(_route(contract.PATH_POLICY))
@documented(
    "The policy this agent runs (its group's, with its own baselines)",
    auth="agent",
    tags=_TAGS,
    responses={200: bodies.PolicyAnswer},
)
def policy() -> ResponseReturnValue:
    signed = authenticate()
    state = current_state()
    with db_session() as session:
        group = group_by_id(session, signed.agent.group_id)
        document = agent_policy(session, signed.agent.id, group, state.config)
        session.commit()  # a baseline taken just now
    touch_agent(state.engine, signed.agent.id)
    return jsonify(document)


@blueprint.post(_route(contract.PATH_HEARTBEAT))
@documented(
    "Say the agent is alive; acknowledge commands, receive new ones",
    auth="agent",
    tags=_TAGS,
    body=bodies.Heartbeat,
    responses={200: bodies.HeartbeatAnswer},
    errors={409: REPLAYED},
)
def heartbeat_endpoint() -> ResponseReturnValue:
    signed = authenticate()
    beat = parse(signed.body, bodies.Heartbeat)
    _once(signed)
    version, commands = heartbeat(
        current_state().engine, signed.agent.id, msgspec.structs.asdict(beat)
    )
    if beat.isolation is not None:
        take_report(signed.agent.id, msgspec.structs.asdict(beat.isolation))
    return jsonify({"policy_version": version, "commands": commands, "command_key": command_key()})


@blueprint.get(_route(contract.PATH_MONITORS))
@documented(
    "The page monitors this agent fetches (internal-only sites)",
    auth="agent",
    tags=_TAGS,
    responses={200: bodies.MonitorList},
)
def agent_monitors() -> ResponseReturnValue:
    """The monitors assigned to the authenticated agent (at most MAX_AGENT_MONITORS)."""
    signed = authenticate()
    engine = current_state().engine
    document = agent_intake.monitors_for(engine, signed.agent.id)
    touch_agent(engine, signed.agent.id)
    return jsonify(document)


@blueprint.post(_route(contract.PATH_MONITOR_OUTCOMES))
@documented(
    "One fetch outcome of a monitor this agent runs, judged like the server's own",
    auth="agent",
    tags=_TAGS,
    body=bodies.MonitorOutcome,
    responses={200: bodies.OutcomeAnswer},
    errors={
        409: REPLAYED,
        403: "the monitor is not run by this agent",
        413: "the body is over the size limit, or the page over the probe's 1 MiB cap",
    },
)
def monitor_outcome() -> ResponseReturnValue:
    """One fetch outcome of a monitor this agent runs: judged and recorded like the server's
    own probes. 400 malformed, 403 not this agent's monitor, 413 a body over the page cap."""
    signed = authenticate()
    try:
        outcome = agent_intake.parse_outcome(signed.body)
    except BodyError as exc:
        raise Refused(400, str(exc)) from exc
    except agent_intake.OutcomeTooLarge as exc:
        raise Refused(413, str(exc)) from exc
    _once(signed)
    state = current_state()
    try:
        received = agent_intake.receive(
            state.engine, signed.agent.id, outcome, state.config.notify_channels
        )
    except agent_intake.NotAssigned as exc:
        raise Refused(403, str(exc)) from exc
    except BodyError as exc:
        raise Refused(400, str(exc)) from exc
    if outcome.dropped:
        events.info(
            "agent %s dropped %d older outcome(s) of monitor %s while the server was unreachable",
            signed.agent.id,
            outcome.dropped,
            outcome.monitor_id,
        )
    touch_agent(state.engine, signed.agent.id)
    answer: dict[str, Any] = {"recorded": received.recorded}
    if received.reason:
        answer["reason"] = received.reason
    return jsonify(answer)


def _evidence_answer(progress: evidence_intake.Progress) -> ResponseReturnValue:
    return jsonify(
        {
            "id": progress.id,
            "received": progress.received,
            "complete": progress.complete,
            "chunk_bytes": progress.chunk_bytes,
        }
    )


def _evidence_refused(error: evidence_intake.EvidenceRefused) -> ResponseReturnValue:
    """A refusal; one about the offset carries where the server stands, to resume from."""
    log_refusal(error.status, error.reason)
    answer: dict[str, Any] = {"error": error.reason}
    if error.received is not None:
        answer["received"] = error.received
    return jsonify(answer), error.status


@blueprint.post(_route(contract.PATH_EVIDENCE))
@documented(
    "Start or resume the upload of an evidence archive; says how many bytes the server holds",
    auth="agent",
    tags=_TAGS,
    body=bodies.EvidenceStart,
    responses={200: bodies.EvidenceProgress},
    errors={
        409: "the id is another agent's, or was started with another size or hash",
        429: "too many open uploads of this agent",
    },
    description="Idempotent: the same start again answers where the upload stands "
    "(complete true once all of it arrived and verified). docs/incidents.md, Evidence.",
)
def evidence_start() -> ResponseReturnValue:
    signed = authenticate()
    start = parse(signed.body, bodies.EvidenceStart)
    state = current_state()
    try:
        with db_session() as session:
            progress = evidence_intake.start(
                session, signed.agent.id, start, state.config.max_body_bytes
            )
    except evidence_intake.EvidenceRefused as exc:
        return _evidence_refused(exc)
    touch_agent(state.engine, signed.agent.id)
    return _evidence_answer(progress)


@blueprint.put(_route(contract.PATH_EVIDENCE) + "/<snapshot_id>")
@documented(
    "One chunk of an evidence archive, at the offset the server stands at",
    auth="agent",
    tags=_TAGS,
    query=bodies.EvidenceChunkQuery,
    raw_body=contract.EVIDENCE_CHUNK_MEDIA_TYPE,
    responses={200: bodies.EvidenceProgress},
    errors={
        409: "the offset is not where the server stands (the answer's received is), or the "
        "archive is complete (write-once)",
        413: "a chunk over 1 MiB (EVIDENCE_CHUNK_MAX_BYTES) or the body limit",
        415: "the body is not application/octet-stream",
        422: "the complete archive does not match its hash or does not verify with this "
        "agent's key; nothing of it is kept",
    },
)
def evidence_chunk(snapshot_id: str) -> ResponseReturnValue:
    signed = authenticate()
    if not _UUID.fullmatch(snapshot_id):
        raise Refused(404, "no such evidence upload")
    try:
        query = convert_query(request.args, bodies.EvidenceChunkQuery)
    except BodyError as exc:
        raise Refused(400, str(exc)) from exc
    if request.mimetype != contract.EVIDENCE_CHUNK_MEDIA_TYPE:
        raise Refused(415, f"a chunk is sent as {contract.EVIDENCE_CHUNK_MEDIA_TYPE}")
    if len(signed.body) > contract.EVIDENCE_CHUNK_MAX_BYTES:
        raise Refused(413, f"a chunk is at most {contract.EVIDENCE_CHUNK_MAX_BYTES} bytes")
    state = current_state()
    try:
        with db_session() as session:
            progress = evidence_intake.receive_chunk(
                session,
                state.paths.root,
                signed.agent.id,
                signed.agent.public_key,
                snapshot_id,
                query.offset,
                signed.body,
                state.config.max_body_bytes,
            )
    except evidence_intake.EvidenceRefused as exc:
        return _evidence_refused(exc)
    if progress.completed_now:
        evidence_intake.record_stored(signed.agent.id, progress.id)
    touch_agent(state.engine, signed.agent.id)
    return _evidence_answer(progress)


def too_large(error: RequestEntityTooLarge) -> ResponseReturnValue:
    """Werkzeug's own limit (MAX_CONTENT_LENGTH) answers like ours does, and drains the body
    like ours (``_drain``): a 413 sent while the client still sends reached a loaded test's
    client as a TLS EOF instead of the answer."""
    limit = current_state().config.max_body_bytes
    _drain(request.content_length or 0, max(8 * limit, DRAIN_MIN_BYTES))
    log_refusal(413, f"body is over the {limit} byte limit")
    return jsonify({"error": f"body is over the {limit} byte limit"}), 413


class ReportFastPath:
    """``POST /api/v1/agent/reports`` without Flask's request machinery, for the reports that
    pass every check, which is nearly all of them (issue 15: Flask, werkzeug and SQLAlchemy's
    per-request work were most of a report's CPU once storing it became cheap).

    It checks what ``reports()`` checks, in the same order and with the same functions (the
    throttle, the body's size, the signed headers against the enrolled key, freshness, the
    body's model, the agent id), and stores through the same ``ingest_report``. At the first
    thing it does not like it stops and hands the request, body put back, to the Flask view,
    which refuses, logs and records it as it always has: one code path decides refusals. Behind
    a trusted proxy (the client is then named in headers) every request takes the Flask path.

    An agent's public key never changes (a new key is a new enrollment, a new agent id), so the
    path keeps the keys of the agents it has seen and reads none per request: on PostgreSQL the
    read (a pooled connection's checkout, a SELECT, the checkin's rollback) cost 157-165 µs of
    CPU and 680-770 µs of wall time per request, on SQLite 16-19 µs of CPU (one thread, 800
    reads). Revocation is not cached: the writing transaction stores a report only while its
    agent's row exists unrevoked (server/intake/report.py), and a report it refuses goes to the
    view, which reads the agent afresh and answers 401.
    """

    def __init__(
        self, app: Any, inner: Any, headers: list[tuple[str, str]], secure: list[tuple[str, str]]
    ) -> None:
        self._app = app
        self._inner = inner
        self._state = app.extensions[EXTENSION_KEY]
        self._headers = headers  # the security headers server/app.py adds to every answer
        self._secure_headers = secure  # the same with Strict-Transport-Security, for HTTPS
        self._keys: dict[str, str] = {}  # agent id -> its public key's text

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if (
            environ.get("PATH_INFO") == contract.PATH_REPORTS
            and environ.get("REQUEST_METHOD") == "POST"
            and not environ.get("QUERY_STRING")
            and not self._state.config.trusted_proxies
        ):
            answer = self._store(environ)
            if answer is not None:
                secure = environ.get("wsgi.url_scheme") == "https"
                start_response(
                    "200 OK",
                    [
                        ("Content-Type", "application/json"),
                        ("Content-Length", str(len(answer))),
                        *(self._secure_headers if secure else self._headers),
                    ],
                )
                return [answer]
        return self._inner(environ, start_response)

    def _store(self, environ: dict[str, Any]) -> bytes | None:
        """The answer for a report stored now or before; None to let the Flask view decide."""
        state = self._state
        declared = environ.get("CONTENT_LENGTH") or ""
        if not declared.isdigit() or int(declared) > state.config.max_body_bytes:
            return None
        limit = self._app.extensions.get(_FAILURES_KEY)
        if isinstance(limit, FailureLimit) and limit.blocked(environ.get("REMOTE_ADDR", "")) > 0:
            return None
        body = environ["wsgi.input"].read(int(declared))
        environ["wsgi.input"] = io.BytesIO(body)  # for the view, should it have to decide
        agent_id = environ.get("HTTP_X_XUNJIAN_AGENT", "")
        if len(body) != int(declared) or not _UUID.fullmatch(agent_id):
            return None
        try:
            sent_at = wire.parse_sent_at(environ.get("HTTP_X_XUNJIAN_TIME"))
            key = self._keys.get(agent_id)
            if key is None:
                with state.engine.connect() as connection:
                    agent = agent_identity(connection, agent_id)
                if agent is None or agent.revoked:
                    return None
                key = agent.public_key
            wire.verify_request(
                _public_key(key),
                "POST",
                contract.PATH_REPORTS,
                agent_id,
                sent_at,
                environ.get("HTTP_X_XUNJIAN_SIGNATURE"),
                body,
            )
            _check_freshness(sent_at, state.config.freshness_window_seconds)
            report = decode_json(body, bodies.Report)
        except (wire.SignatureError, BodyError, ValueError):
            return None
        if report.agent_id != agent_id:
            return None
        try:
            outcome = ingest_report(state.engine, agent_id, report)
        except Exception:
            # Nothing was committed (the writer rolls a failed batch back): the view tries
            # once more and, failing too, answers 500 through Flask's error handling and logs.
            events.exception("report of agent %s: the fast path could not store it", agent_id)
            return None
        if outcome.refused:
            self._keys.pop(agent_id, None)
            return None
        if agent_id not in self._keys:
            # Remembered once a report is stored: the signature was good and the agent active.
            if len(self._keys) >= _PUBLIC_KEYS_MAX:
                self._keys.clear()
            self._keys[agent_id] = key
        return _DUPLICATE if outcome.duplicate else _STORED
