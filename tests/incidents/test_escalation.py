"""Reporting up the chain (I2): an incident goes to the roster's tiers one after another,
with the delays the roster gives, through real webhook receivers on 127.0.0.1; acknowledging
it stops the chain. The roster is the console's (saved in the database with the functions
the Roster page calls), read by the same ``AlertingSource`` the alert worker reads. Times are
passed to each tick (no sleeping, no clock assertions)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from server.incidents.escalation import (
    IncidentDeliverer,
    IncidentEscalation,
    message_for,
    queue_incident_notifications,
)
from server.incidents.models import IncidentEvent, IncidentNotification
from server.incidents.store import acknowledge, close, open_incident
from server.notify.render import plain_text
from server.policy_settings.alerting import Person, Tier, create_channel, save_roster
from tests.incidents.helpers import failing_alert
from tests.server.conftest import Server, SignedAgent
from tests.server.test_alerts_delivery import Receiver

FIRST_DELAY = 900
SECOND_DELAY = 1800


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made = [Receiver() for _ in range(4)]
    yield made
    for receiver in made:
        receiver.http.shutdown()
        receiver.http.server_close()


def roster(server: Server, receivers: list[Receiver]) -> None:
    """Four tiers, each with its own webhook channel: 网络管理员, 信息中心负责人, 分管领导,
    上级主管部门; 900 s, then 1800 s, then 600 s before the next."""
    state = server.state
    with state.sessions() as session:
        for number, receiver in enumerate(receivers, start=1):
            create_channel(
                session,
                state.config,
                "admin",
                f"tier{number}",
                "webhook",
                "low",
                {"url": receiver.url, "allow_http": True, "timeout_seconds": 10},
                data=server.data,
            )
        save_roster(
            session,
            state.config,
            "admin",
            [
                Tier(("tier1",), (Person("值班员", "13800000001"),), FIRST_DELAY),
                Tier(("tier2",), (Person("主任", "13800000002"),), SECOND_DELAY),
                Tier(("tier3",), (), 600),
                Tier(("tier4",), (), None),
            ],
            data=server.data,
        )
        session.commit()


def open_one(server: Server, agent: SignedAgent) -> tuple[int, datetime.datetime]:
    alert_id = failing_alert(server, agent)
    with server.state.sessions() as session:
        incident = open_incident(session, "olga", alert_id=alert_id).incident
        return incident.id, incident.opened_at


def told(receivers: list[Receiver], incident_id: int) -> list[int]:
    """How many messages about the incident each tier's receiver got."""
    return [receiver.deliveries[f"incident-{incident_id}"] for receiver in receivers]


def test_tiers_are_told_in_turn_until_someone_acknowledges(
    server: Server, agent: SignedAgent, receivers: list[Receiver]
) -> None:
    roster(server, receivers)
    incident_id, opened = open_one(server, agent)
    escalation = IncidentEscalation(server.state.engine, server.state.config, server.data)
    # The alert itself went to its own channels; only incident messages are counted here.
    at = opened + datetime.timedelta(seconds=1)
    assert escalation.tick(at).sent == 1
    assert told(receivers, incident_id) == [1, 0, 0, 0]
    assert escalation.tick(at + datetime.timedelta(seconds=FIRST_DELAY - 10)).sent == 0
    assert told(receivers, incident_id) == [1, 0, 0, 0]
    at = opened + datetime.timedelta(seconds=FIRST_DELAY + 1)
    assert escalation.tick(at).sent == 1
    assert told(receivers, incident_id) == [1, 1, 0, 0]
    # Tier 2 acknowledges: tiers 3 and 4 are never told, however long it stays open.
    with server.state.sessions() as session:
        acknowledge(session, incident_id, "zhu-ren")
    for seconds in (FIRST_DELAY + SECOND_DELAY + 1, 10 * 24 * 3600):
        assert escalation.tick(opened + datetime.timedelta(seconds=seconds)).sent == 0
    assert told(receivers, incident_id) == [1, 1, 0, 0]
    with server.state.sessions() as session:
        timeline = list(
            session.scalars(
                select(IncidentEvent)
                .where(IncidentEvent.incident_id == incident_id)
                .order_by(IncidentEvent.id)
            )
        )
        rows = list(session.scalars(select(IncidentNotification).order_by(IncidentNotification.id)))
    assert [event.kind for event in timeline] == [
        "opened",
        "escalated",
        "escalated",
        "acknowledged",
    ]
    assert "网络管理员" in timeline[1].text and "信息中心负责人" in timeline[2].text
    assert [(row.channel, row.tier, row.status) for row in rows] == [
        ("tier1", 1, "sent"),
        ("tier2", 2, "sent"),
    ]


def test_an_unacknowledged_incident_reaches_the_higher_authority(
    server: Server, agent: SignedAgent, receivers: list[Receiver]
) -> None:
    roster(server, receivers)
    incident_id, opened = open_one(server, agent)
    escalation = IncidentEscalation(server.state.engine, server.state.config, server.data)
    for seconds in (1, FIRST_DELAY + 1, FIRST_DELAY + SECOND_DELAY + 1):
        escalation.tick(opened + datetime.timedelta(seconds=seconds))
    assert told(receivers, incident_id) == [1, 1, 1, 0]
    escalation.tick(opened + datetime.timedelta(seconds=FIRST_DELAY + SECOND_DELAY + 601))
    assert told(receivers, incident_id) == [1, 1, 1, 1]
    # Each tier once: more ticks send nothing again.
    escalation.tick(opened + datetime.timedelta(days=30))
    assert told(receivers, incident_id) == [1, 1, 1, 1]


def test_a_tier_queued_before_the_acknowledgement_is_not_sent_after_it(
    server: Server, agent: SignedAgent, receivers: list[Receiver]
) -> None:
    roster(server, receivers)
    incident_id, opened = open_one(server, agent)
    escalation = IncidentEscalation(server.state.engine, server.state.config, server.data)
    escalation.tick(opened + datetime.timedelta(seconds=1))
    # Tier 2 is queued (its delay passed) but a second process has not sent it yet...
    channels = escalation.source.current().channels
    at = opened + datetime.timedelta(seconds=FIRST_DELAY + 1)
    assert queue_incident_notifications(server.state.engine, channels, at) == 1
    # ...when someone closes the incident.
    with server.state.sessions() as session:
        close(session, incident_id, "olga", "false alarm")
    outcome = IncidentDeliverer(server.state.engine, channels).deliver_due(at)
    assert (outcome.sent, outcome.stopped) == (0, 1)
    assert told(receivers, incident_id) == [1, 0, 0, 0]


def test_a_crashing_notifier_fails_the_tier_without_its_text_and_no_event(
    server: Server, agent: SignedAgent, receivers: list[Receiver]
) -> None:
    from tests.server.test_alerts_delivery import CrashingNotifier

    roster(server, receivers)
    incident_id, opened = open_one(server, agent)
    channels = (
        IncidentEscalation(server.state.engine, server.state.config, server.data)
        .source.current()
        .channels
    )
    at = opened + datetime.timedelta(seconds=1)
    assert queue_incident_notifications(server.state.engine, channels, at) == 1
    deliverer = IncidentDeliverer(
        server.state.engine,
        channels,
        notifiers={"tier1": CrashingNotifier()},  # type: ignore[dict-item]
    )
    outcome = deliverer.deliver_due(at)
    assert (outcome.sent, outcome.failed) == (0, 1)
    with server.state.sessions() as session:
        [row] = session.scalars(select(IncidentNotification))
        kinds = session.scalars(
            select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident_id)
        ).all()
    assert (row.status, row.last_error, row.claimed_by) == ("failed", "crashed: RuntimeError", None)
    assert "escalated" not in kinds
    assert told(receivers, incident_id) == [0, 0, 0, 0]


def test_the_message_names_the_tier_host_and_incident(server: Server, agent: SignedAgent) -> None:
    incident_id, _opened = open_one(server, agent)
    with server.state.sessions() as session:
        from server.incidents.models import Incident

        incident = session.get(Incident, incident_id)
        assert incident is not None
        text = plain_text(message_for(incident, 3), "zh")
    assert f"incident-{incident_id}" in text and "事件编号" in text
    assert "分管领导" in text and "pc-101" in text and "[严重]" in text


def test_a_failing_receiver_is_retried_and_the_next_tier_still_follows(
    server: Server, agent: SignedAgent, receivers: list[Receiver]
) -> None:
    roster(server, receivers)
    incident_id, opened = open_one(server, agent)
    receivers[0].statuses = [503]
    escalation = IncidentEscalation(server.state.engine, server.state.config, server.data)
    outcome = escalation.tick(opened + datetime.timedelta(seconds=1))
    assert (outcome.sent, outcome.retrying) == (0, 1)
    assert told(receivers, incident_id) == [0, 0, 0, 0]
    escalation.tick(opened + datetime.timedelta(seconds=FIRST_DELAY + 1))
    assert told(receivers, incident_id) == [1, 1, 0, 0]
