"""Work that must happen once across server processes: claiming due monitors, rolling up
history, purging, the daily digest; plus reminders while down. Two engines on one database
stand for two server processes."""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select, update

from server.alerts.channels import Channel, apply_roster, parse_channels
from server.alerts.models import AlertNotification
from server.monitors import digest, history
from server.monitors.jobs import claim_due
from server.monitors.models import Monitor, MonitorAggregate, MonitorJob, MonitorResult
from server.store.engine import make_engine
from server.store.models import utcnow
from tests.monitors.helpers import add, probe
from tests.monitors.site import Site
from tests.server.conftest import Server


def make_due(server: Server) -> None:
    with server.state.engine.begin() as connection:
        connection.execute(update(Monitor).values(next_due_at=utcnow() - datetime.timedelta(1)))


def test_two_processes_claim_each_due_monitor_once(server: Server, site: Site) -> None:
    ids = [add(server, url=site.url(f"/p{n}"), interval_seconds=60)["id"] for n in range(12)]
    make_due(server)
    other = make_engine(server.state.config.database_url)
    try:
        claimed: dict[str, list[int]] = {"a": [], "b": []}

        def claimer(name: str, engine: Any) -> None:
            for _ in range(6):
                claimed[name] += claim_due(engine, name, 3)

        threads = [
            threading.Thread(target=claimer, args=("a", server.state.engine)),
            threading.Thread(target=claimer, args=("b", other)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.dispose()
    everything = claimed["a"] + claimed["b"]
    assert sorted(everything) == sorted(ids)
    # Claimed and not yet due again: nobody gets them.
    assert claim_due(server.state.engine, "c", 100) == []
    with server.state.sessions() as session:
        for monitor in session.scalars(select(Monitor)):
            assert monitor.next_due_at > utcnow() + datetime.timedelta(seconds=50)
            assert monitor.claimed_by in ("a", "b")


def test_a_probe_releases_its_claim(server: Server, site: Site) -> None:
    created = add(server, url=site.url(), interval_seconds=5)
    make_due(server)
    [claimed] = claim_due(server.state.engine, "me", 10)
    assert claimed == created["id"]
    from server.monitors.record import probe_monitor

    probe_monitor(
        server.state.engine,
        claimed,
        (),
        claimed_by="me",
        addresses=server.state.config.monitor_addresses,
    )
    with server.state.sessions() as session:
        monitor = session.get(Monitor, claimed)
        assert monitor is not None
        assert monitor.claimed_by is None and monitor.claimed_until is None


def _result(monitor_id: int, at: datetime.datetime, ok: bool, ms: int) -> MonitorResult:
    return MonitorResult(monitor_id=monitor_id, at=at, ok=ok, status_code=200, ms=ms, problems="")


def test_roll_up_happens_once_across_processes_and_uptime_uses_it(
    server: Server, site: Site
) -> None:
    monitor_id = add(server, url=site.url())["id"]
    now = datetime.datetime(2026, 11, 25, 10, 30)
    with server.state.sessions() as session:
        for hour in range(30):  # from 2026-11-24 04:00 to 2026-11-25 09:00
            start = datetime.datetime(2026, 11, 24, 4) + datetime.timedelta(hours=hour)
            for minute in range(0, 60, 10):
                ok = not (hour == 5 and minute < 30)  # three failures in one hour
                session.add(
                    _result(
                        monitor_id, start + datetime.timedelta(minutes=minute), ok, 100 + minute
                    )
                )
        session.commit()
    other = make_engine(server.state.config.database_url)
    try:
        done = [0, 0]

        def roll(index: int, engine: Any) -> None:
            done[index] = history.roll_up(engine, now)

        threads = [
            threading.Thread(target=roll, args=(0, server.state.engine)),
            threading.Thread(target=roll, args=(1, other)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert history.roll_up(other, now) == 0  # nothing left to do
    finally:
        other.dispose()
    with server.state.sessions() as session:
        hours = session.scalars(
            select(MonitorAggregate).where(MonitorAggregate.period == "hour")
        ).all()
        days = session.scalars(
            select(MonitorAggregate).where(MonitorAggregate.period == "day")
        ).all()
        jobs = session.scalar(select(func.count()).select_from(MonitorJob))
    assert len(hours) == 30  # 04:00 on the 24th .. 09:00 on the 25th, each once
    assert sum(done) == jobs == 48 + 2  # 48 hours looked at; the 23rd (seen in part), the 24th
    day = next(row for row in days if row.start == datetime.datetime(2026, 11, 24))
    assert day.start == datetime.datetime(2026, 11, 24) and day.probes == 20 * 6
    assert day.ups == 20 * 6 - 3 and day.ms_max == 150
    [uptime_24h, uptime_30d] = history.uptimes(
        server.state.engine,
        [monitor_id],
        [datetime.timedelta(hours=24), datetime.timedelta(days=30)],
        now,
    )[monitor_id]
    assert uptime_30d.probes == 30 * 6 and uptime_30d.ups == 30 * 6 - 3
    assert uptime_24h.probes == 24 * 6 and uptime_24h.ups == 24 * 6


def test_purge_keeps_raw_results_for_the_configured_days(server: Server, site: Site) -> None:
    monitor_id = add(server, url=site.url())["id"]
    now = utcnow()
    with server.state.sessions() as session:
        session.add(_result(monitor_id, now - datetime.timedelta(days=31), True, 1))
        session.add(_result(monitor_id, now - datetime.timedelta(days=29), True, 1))
        session.commit()
    assert history.purge(server.state.engine, 30, now) is True
    assert history.purge(server.state.engine, 30, now) is False  # once a day
    with server.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(MonitorResult)) == 1


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.bodies.append(
                    json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                )
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def channels(self) -> tuple[Channel, ...]:
        settings = {"url": self.url, "allow_http": True, "timeout_seconds": 10}
        raw = [
            {"name": "duty", "kind": "webhook", "settings": settings},
            {"name": "head", "kind": "webhook", "settings": {**settings, "url": self.url + "2"}},
        ]
        roster = [{"channels": ["duty"], "escalate_after_seconds": 600}, {"channels": ["head"]}]
        return apply_roster(parse_channels(raw), roster)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.http.shutdown()
    running.http.server_close()


def test_working_days_only() -> None:
    # 2026-11-23 is a Monday. 00:30 UTC is 08:30 in Shanghai.
    monday = datetime.datetime(2026, 11, 23, 0, 30)
    shanghai = "Asia/Shanghai"  # named: the default zone is the machine's own
    assert digest.due_day(monday, zone=shanghai) == datetime.date(2026, 11, 23)
    assert digest.due_day(monday - datetime.timedelta(minutes=1), zone=shanghai) is None
    saturday = datetime.datetime(2026, 11, 28, 5, 0)
    assert digest.due_day(saturday, zone=shanghai) is None
    assert digest.due_day(monday, "09:00", "UTC") is None
    assert digest.due_day(monday, "00:15", "UTC") == datetime.date(2026, 11, 23)


def test_the_daily_digest_goes_once_to_the_first_tier(
    server: Server, site: Site, receiver: Receiver
) -> None:
    good = add(server, url=site.url(), name="home")["id"]
    bad = add(server, url=site.url("/gone"), name="news", fail_threshold=1)["id"]
    probe(server, good)
    probe(server, bad)
    channels = receiver.channels()
    now = datetime.datetime.combine(utcnow().date(), datetime.time(12, 0))
    while now.weekday() >= 5:
        now -= datetime.timedelta(days=1)
    other = make_engine(server.state.config.database_url)
    try:
        outcomes = [
            digest.send_digest_if_due(engine, channels, "08:00", "UTC", now)
            for engine in (server.state.engine, other, server.state.engine)
        ]
    finally:
        other.dispose()
    assert outcomes[1:] == [None, None]
    assert outcomes[0] is not None and outcomes[0].startswith("duty: sent")
    [body] = receiver.bodies  # once, and only to tier 1
    text = body["alert"]["body"]["zh"]
    assert "共检查 2 个页面，1 个需要关注" in text
    assert "news" in text and "故障" in text and "[down]" in text
    # The notifiers' notice kind, not a disguised alert: titled as the daily report it is.
    assert body["alert"]["kind"] == "digest"
    assert body["alert"]["id"] == f"digest-{now:%Y-%m-%d}"
    assert body["alert"]["title"]["en"] == f"Page checks {now:%Y-%m-%d}"
    assert body["text"].startswith(f"[日报] 页面巡检 {now:%Y-%m-%d}\n")
    assert "级别" not in body["text"]
    # Shown in the digest's own time zone, the hour it was due at.
    assert body["alert"]["opened_at"] == f"{now:%Y-%m-%dT%H:%M:%S}+00:00"
    shanghai = digest.compose(server.state.engine, now, now.date(), "Asia/Shanghai")
    assert shanghai.opened_at.isoformat().endswith("+08:00")
    assert shanghai.opened_at == now.replace(tzinfo=datetime.UTC)


def test_monitor_alerts_are_titled_by_their_page(server: Server, site: Site) -> None:
    from server.alerts.delivery import message_for
    from server.alerts.models import Alert

    created = add(server, url=site.url("/gone"), fail_threshold=1)
    probe(server, created["id"])
    with server.state.sessions() as session:
        alert = session.scalars(select(Alert)).one()
    message = message_for(alert, None)
    assert message.title.en == f"Page check failed: {site.url('/gone')}"
    assert message.title.zh == f"页面检查未通过：{site.url('/gone')}"
    assert message.subject == site.url("/gone")


def test_reminders_while_down_at_most_every_interval(server: Server, site: Site) -> None:
    [channel] = parse_channels(
        [{"name": "duty", "kind": "webhook", "settings": {"url": "https://hooks.example/x"}}]
    )
    created = add(server, url=site.url("/gone"), fail_threshold=1, reminder_seconds=300)
    from server.monitors.record import DefacementWords, probe_monitor

    engine = server.state.engine
    probe_monitor(
        engine,
        created["id"],
        DefacementWords(engine).get(),
        (channel,),
        addresses=server.state.config.monitor_addresses,
    )
    probe_monitor(
        engine, created["id"], (), (channel,), addresses=server.state.config.monitor_addresses
    )

    def reminders() -> int:
        with server.state.sessions() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(AlertNotification)
                    .where(AlertNotification.event.like("remind%"))
                )
                or 0
            )

    assert reminders() == 0  # the first notice is the alert itself
    with engine.begin() as connection:  # ten minutes pass
        connection.execute(
            update(Monitor).values(last_reminder_at=utcnow() - datetime.timedelta(minutes=10))
        )
        from server.alerts.models import Alert

        connection.execute(
            update(Alert).values(opened_at=utcnow() - datetime.timedelta(minutes=10))
        )
    probe_monitor(
        engine, created["id"], (), (channel,), addresses=server.state.config.monitor_addresses
    )
    probe_monitor(
        engine, created["id"], (), (channel,), addresses=server.state.config.monitor_addresses
    )
    assert reminders() == 1


def test_the_scheduler_sends_the_digest_through_the_channels_in_force(
    server: Server, receiver: Receiver
) -> None:
    """Once channels are managed in the console (the database), the digest goes to those, with
    their sealed secrets opened, not to config.json's (which here has none at all)."""
    import threading as threads

    from server.monitors.jobs import MonitorScheduler
    from server.policy_settings import alerting

    assert server.state.config.notify_channels == ()
    scheduler = MonitorScheduler(server.state, threads.Event())
    try:
        assert scheduler.channels_in_force() == ()
        with server.state.sessions() as session:
            alerting.create_channel(
                session,
                server.state.config,
                "admin",
                "duty",
                "webhook",
                "info",
                {"url": receiver.url, "allow_http": True, "secret": "digest-signing-secret-1"},
                data=server.data,
            )
            session.commit()
        [duty] = scheduler.channels_in_force()
        assert duty.name == "duty" and duty.settings["secret"] == "digest-signing-secret-1"
        now = datetime.datetime.combine(utcnow().date(), datetime.time(12, 0))
        while now.weekday() >= 5:
            now -= datetime.timedelta(days=1)
        sent = digest.send_digest_if_due(
            server.state.engine, scheduler.channels_in_force(), "08:00", "UTC", now
        )
        assert sent is not None and sent.startswith("duty: sent"), sent
        [body] = receiver.bodies
        assert body["alert"]["kind"] == "digest"
    finally:
        scheduler.pool.shutdown()
