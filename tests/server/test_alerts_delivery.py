"""Alert delivery: channels from config.json, queueing, claiming, retries, and no double
sends when two workers race. The receiver is a real HTTP server on 127.0.0.1 that counts
what arrives (the webhook notifier, allow_http for a loopback address)."""

from __future__ import annotations

import datetime
import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from server.alerts.channels import Channel, parse_channels
from server.alerts.delivery import Deliverer, queue_notifications
from server.alerts.models import AlertNotification
from server.alerts.outbox import MAX_ATTEMPTS
from server.config import ConfigError, ServerConfig
from server.notify import AlertKind
from server.store.engine import make_engine
from server.store.models import utcnow
from tests.server.conftest import Server, SignedAgent
from tests.server.test_alerts import result, send


class Receiver:
    """Counts webhook deliveries per alert id; answers with the queued statuses, then 200."""

    def __init__(self) -> None:
        self.deliveries: Counter[str] = Counter()
        self.bodies: list[dict[str, Any]] = []  # each delivered message's JSON
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    if status == 200:
                        receiver.deliveries[body["alert"]["id"]] += 1
                        receiver.bodies.append(body)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def channel(self, name: str = "hook", min_severity: str = "low") -> Channel:
        [channel] = parse_channels(
            [
                {
                    "name": name,
                    "kind": "webhook",
                    "min_severity": min_severity,
                    "settings": {"url": self.url, "allow_http": True, "timeout_seconds": 10},
                }
            ]
        )
        return channel


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.http.shutdown()
    receiver.http.server_close()


def notifications(server: Server) -> list[AlertNotification]:
    with server.state.sessions() as session:
        return list(session.scalars(select(AlertNotification).order_by(AlertNotification.id)))


def test_channels_are_validated_when_the_config_loads() -> None:
    good = {"name": "it", "kind": "webhook", "settings": {"url": "https://hooks.example/x"}}
    config = ServerConfig.from_mapping({"database_url": "sqlite://", "notify_channels": [good]})
    assert config.notify_channels[0].name == "it"
    assert config.notify_channels[0].min_severity == "low"
    for bad, reason in [
        ({**good, "kind": "pager"}, "unknown notifier"),
        ({**good, "settings": {"url": "http://hooks.example/x"}}, "https://"),
        ({**good, "settings": {"url": "https://h.example/", "secert": "x"}}, "unknown setting"),
        ({**good, "min_severity": "urgent"}, "min_severity"),
        ({**good, "colour": "red"}, "unknown keys"),
        ({**good, "name": ""}, "name"),
    ]:
        with pytest.raises(ConfigError, match=reason):
            ServerConfig.from_mapping({"database_url": "sqlite://", "notify_channels": [bad]})
    with pytest.raises(ConfigError, match="twice"):
        ServerConfig.from_mapping({"database_url": "sqlite://", "notify_channels": [good, good]})


def test_an_open_alert_is_sent_once(server: Server, agent: SignedAgent, receiver: Receiver) -> None:
    send(agent, [result("accounts.uid0_extra", "fail", "user:toor", severity="critical")])
    channels = (receiver.channel(),)
    assert queue_notifications(server.state.engine, channels) == 1
    assert queue_notifications(server.state.engine, channels) == 0
    deliverer = Deliverer(server.state.engine, channels)
    assert deliverer.deliver_due().sent == 1
    assert deliverer.deliver_due().sent == 0
    [row] = notifications(server)
    assert (row.status, row.attempts, row.claimed_by) == ("sent", 1, None)
    assert row.target is not None and "127.0.0.1" in row.target
    assert list(receiver.deliveries.values()) == [1]


def test_a_failure_said_by_message_id_is_notified_in_chinese_and_english(
    server: Server, agent: SignedAgent, receiver: Receiver
) -> None:
    """Issue 13 item 5: the notification says the result's sentence in both languages from its
    message id; a result without one keeps the agent's English in both."""
    said = result("accounts.uid0_extra", "fail", "user:toor", severity="critical")
    said["message"] = "account toor has UID 0, so it holds every power root holds"
    said["message_id"] = "accounts.uid0_extra"
    said["params"] = {"user": "toor"}
    send(agent, [said, result("a.b", "fail", "host")])
    channels = (receiver.channel(),)
    queue_notifications(server.state.engine, channels)
    assert Deliverer(server.state.engine, channels).deliver_due().sent == 2
    texts = [body["alert"]["body"] for body in receiver.bodies]
    [toor] = [text for text in texts if "toor" in text["en"]]
    [other] = [text for text in texts if "toor" not in text["en"]]
    assert toor["zh"].endswith("user:toor：账户 toor 的 UID 为 0，拥有与 root 相同的全部权限")
    assert toor["en"].endswith(f"user:toor: {said['message']}")
    assert other["zh"].endswith("host：a.b fail")
    assert other["en"].endswith("host: a.b fail")


def test_min_severity_and_acknowledged_alerts_are_respected(
    server: Server, agent: SignedAgent, receiver: Receiver
) -> None:
    send(agent, [result("a.low", "fail", severity="low"), result("a.high", "fail")])
    assert queue_notifications(server.state.engine, (receiver.channel(min_severity="high"),)) == 1
    with server.state.engine.begin() as connection:
        from sqlalchemy import update

        from server.alerts.models import Alert

        connection.execute(update(Alert).values(acknowledged_at=utcnow(), acknowledged_by="x"))
    assert queue_notifications(server.state.engine, (receiver.channel("other"),)) == 0


def test_a_temporary_failure_is_retried_later_with_backoff(
    server: Server, agent: SignedAgent, receiver: Receiver
) -> None:
    send(agent, [result("a.b", "fail")])
    channels = (receiver.channel(),)
    queue_notifications(server.state.engine, channels)
    receiver.statuses = [503]
    deliverer = Deliverer(server.state.engine, channels)
    now = utcnow()
    assert deliverer.deliver_due(now).retrying == 1
    [row] = notifications(server)
    assert row.status == "pending" and "will retry" in (row.last_error or "")
    assert row.next_attempt_at > now
    assert deliverer.deliver_due(now).sent == 0  # not due yet
    later = row.next_attempt_at + datetime.timedelta(seconds=1)
    assert deliverer.deliver_due(later).sent == 1
    assert notifications(server)[0].attempts == 2
    assert sum(receiver.deliveries.values()) == 1


def test_a_permanent_failure_is_recorded_and_not_retried(
    server: Server, agent: SignedAgent, receiver: Receiver
) -> None:
    send(agent, [result("a.b", "fail")])
    channels = (receiver.channel(),)
    queue_notifications(server.state.engine, channels)
    receiver.statuses = [400]
    deliverer = Deliverer(server.state.engine, channels)
    assert deliverer.deliver_due().failed == 1
    [row] = notifications(server)
    assert row.status == "failed" and "permanent" in (row.last_error or "")
    far = utcnow() + datetime.timedelta(days=1)
    assert deliverer.deliver_due(far) == deliverer.deliver_due(far)  # nothing to do
    assert receiver.deliveries == Counter()


def test_temporary_failures_give_up_after_max_attempts(
    server: Server, agent: SignedAgent, receiver: Receiver
) -> None:
    send(agent, [result("a.b", "fail")])
    channels = (receiver.channel(),)
    queue_notifications(server.state.engine, channels)
    receiver.statuses = [503] * MAX_ATTEMPTS
    deliverer = Deliverer(server.state.engine, channels)
    moment = utcnow()
    for _ in range(MAX_ATTEMPTS):
        deliverer.deliver_due(moment)
        moment += datetime.timedelta(days=1)
    [row] = notifications(server)
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert "gave up" in (row.last_error or "")


class CrashingNotifier:
    """A notifier with a bug: it raises what no notifier may (the real ones cannot be made
    to)."""

    def send(self, message: object) -> object:
        raise RuntimeError("bug in the notifier")


def test_a_crashing_notifier_fails_its_row_and_the_other_channels_still_send(
    server: Server, agent: SignedAgent, receiver: Receiver
) -> None:
    send(agent, [result("a.b", "fail")])
    channels = (receiver.channel("crashy"), receiver.channel("hook"))
    assert queue_notifications(server.state.engine, channels) == 2
    deliverer = Deliverer(
        server.state.engine,
        channels,
        notifiers={"crashy": CrashingNotifier()},  # type: ignore[dict-item]
    )
    outcome = deliverer.deliver_due()
    assert (outcome.sent, outcome.failed, outcome.retrying) == (1, 1, 0)
    by_channel = {row.channel: row for row in notifications(server)}
    assert by_channel["crashy"].status == "failed"
    assert by_channel["crashy"].last_error == "crashed: RuntimeError: bug in the notifier"
    assert by_channel["crashy"].claimed_by is None
    assert by_channel["hook"].status == "sent"
    assert sum(receiver.deliveries.values()) == 1


def test_a_claim_held_by_another_worker_is_left_alone(
    server: Server, agent: SignedAgent, receiver: Receiver
) -> None:
    send(agent, [result("a.b", "fail")])
    channels = (receiver.channel(),)
    queue_notifications(server.state.engine, channels)
    first = Deliverer(server.state.engine, channels, name="first")
    [due] = first._due(utcnow())
    assert first._claim(due, utcnow())
    second = Deliverer(server.state.engine, channels, name="second")
    assert second.deliver_due().sent == 0
    assert receiver.deliveries == Counter()


def test_two_workers_racing_never_send_one_notification_twice(
    server: Server, agent: SignedAgent, receiver: Receiver, database_url: str
) -> None:
    """Two deliverers, each with an engine of its own (as two server processes have), loop
    over the same due rows at once; the receiver must count every alert exactly once."""
    send(agent, [result(f"c.{n}", "fail") for n in range(30)])
    channels = (receiver.channel(),)
    assert queue_notifications(server.state.engine, channels) == 30
    engines = [make_engine(database_url), make_engine(database_url)]
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def work(engine: Any, name: str) -> None:
        deliverer = Deliverer(engine, channels, name=name)
        barrier.wait()
        try:
            while deliverer._due(utcnow()):
                deliverer.deliver_due()
        except BaseException as error:
            failures.append(error)

    threads = [
        threading.Thread(target=work, args=(engine, f"w{n}")) for n, engine in enumerate(engines)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for engine in engines:
        engine.dispose()
    assert failures == []
    assert len(receiver.deliveries) == 30
    assert set(receiver.deliveries.values()) == {1}
    rows = notifications(server)
    assert {row.status for row in rows} == {"sent"} and len(rows) == 30
    assert {row.attempts for row in rows} == {1}


def test_the_worker_tick_queues_and_sends(
    server: Server, agent: SignedAgent, receiver: Receiver
) -> None:
    import dataclasses

    from server.alerts.jobs import AlertWorker
    from server.state import ServerState

    send(agent, [result("a.b", "fail")])
    state = server.state
    config = dataclasses.replace(state.config, notify_channels=(receiver.channel(),))
    worker = AlertWorker(
        ServerState(config, state.paths, state.engine, state.sessions), threading.Event()
    )
    worker.tick()
    assert sum(receiver.deliveries.values()) == 1


def test_the_oncall_roster_is_validated() -> None:
    hook = {"kind": "webhook", "settings": {"url": "https://hooks.example/x"}}
    channels = [{**hook, "name": "duty"}, {**hook, "name": "head"}]

    def load(tiers: Any) -> ServerConfig:
        return ServerConfig.from_mapping(
            {"database_url": "sqlite://", "notify_channels": channels, "oncall_tiers": tiers}
        )

    config = load([{"channels": ["duty"], "escalate_after_seconds": 900}, {"channels": ["head"]}])
    assert [(c.name, c.tier, c.delay_seconds) for c in config.notify_channels] == [
        ("duty", 1, 0),
        ("head", 2, 900),
    ]
    for bad, reason in [
        ([{"channels": ["nobody"]}], "no channel named"),
        ([{"channels": ["duty"]}, {"channels": ["head"]}], "escalate_after_seconds is required"),
        ([{"channels": ["duty"], "escalate_after_seconds": 0}, {"channels": ["head"]}], ">= 1"),
        ([{"channels": ["duty"], "escalate_after_seconds": 9}, {"channels": ["duty"]}], "two"),
        ([{"channels": []}], "non-empty"),
        ({"channels": ["duty"]}, "must be a list"),
    ]:
        with pytest.raises(ConfigError, match=reason):
            load(bad)


def test_an_unacknowledged_alert_escalates_to_the_next_tier(
    server: Server, agent: SignedAgent, receiver: Receiver
) -> None:
    from server.alerts.channels import apply_roster

    duty, head, principal = (receiver.channel(name) for name in ("duty", "head", "principal"))
    roster = [
        {"channels": ["duty"], "escalate_after_seconds": 600},
        {"channels": ["head"], "escalate_after_seconds": 1200},
        {"channels": ["principal"]},
    ]
    channels = apply_roster((duty, head, principal), roster)
    send(agent, [result("a.b", "fail"), result("c.d", "fail")])
    now = utcnow()
    assert queue_notifications(server.state.engine, channels, now) == 2  # tier 1 at once
    later = now + datetime.timedelta(seconds=601)
    # Someone acknowledged c.d in time: it does not escalate.
    from sqlalchemy import update

    from server.alerts.models import Alert

    with server.state.engine.begin() as connection:
        connection.execute(update(Alert).where(Alert.check_id == "c.d").values(acknowledged_at=now))
    assert queue_notifications(server.state.engine, channels, later) == 1
    assert queue_notifications(server.state.engine, channels, later) == 0
    much_later = now + datetime.timedelta(seconds=1801)
    assert queue_notifications(server.state.engine, channels, much_later) == 1
    by_channel = sorted((row.channel, row.alert_id) for row in notifications(server))
    assert [channel for channel, _ in by_channel] == ["duty", "duty", "head", "principal"]
    deliverer = Deliverer(server.state.engine, channels)
    assert deliverer.deliver_due(much_later).sent == 4


def test_a_spool_overflow_is_sent_too(
    server: Server, agent: SignedAgent, receiver: Receiver
) -> None:
    """Every kind the alerts package opens is one the notifiers can carry."""
    from server.alerts.models import KINDS

    assert set(KINDS) <= {kind.value for kind in AlertKind}
    gap = {"from_seq": 3, "to_seq": 9, "reason": "spool full"}
    send(agent, [result("a.b", "pass")], gaps=[gap])
    channels = (receiver.channel(min_severity="low"),)
    assert queue_notifications(server.state.engine, channels) == 1
    assert Deliverer(server.state.engine, channels).deliver_due().sent == 1
    assert list(receiver.deliveries.values()) == [1]
