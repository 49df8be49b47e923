"""Channel secrets sealed at rest (server/policy_settings/sealed.py, server/sealing.py): the
database row holds no secret text, deliveries through a real receiver on 127.0.0.1 still sign
and authenticate, a plain row from an older release still sends (and is sealed at its next
save), and a row sealed under another DATA/secret-key fails that channel alone, with a clear
reason, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask.testing import FlaskClient
from sqlalchemy import text, update

from server.alerts.delivery import ChannelDelivery
from server.devices.store import CREDENTIAL_PURPOSE, unseal
from server.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, webhook_signature
from server.policy_settings import alerting
from server.policy_settings.models import NotifyChannelRow
from server.policy_settings.sealed import (
    MARKER,
    PURPOSE,
    UnsealError,
    secret_fields,
    unseal_settings,
)
from server.sealing import Sealer
from tests.server.conftest import Server, SignedAgent
from tests.server.test_alerts import result, send
from tests.server.test_console import admin, csrf_from
from tests.server.test_policy_settings import SECRET, Receiver, receiver

__all__ = ["admin", "receiver"]  # fixtures, used by name

SMTP_PASSWORD = "smtp-Passw0rd-for-the-relay"
ROBOT_KEY = "ROBOTACCESSTOKEN0123456789"


def raw_settings(server: Server, name: str) -> str:
    """The stored JSON of a channel as the database returns it: no ORM, no unsealing."""
    with server.state.engine.connect() as connection:
        value = connection.execute(
            text("SELECT settings FROM notify_channel_settings WHERE name = :name"),
            {"name": name},
        ).scalar_one()
    return value if isinstance(value, str) else json.dumps(value)


def test_the_device_purpose_opens_what_the_old_inline_code_sealed(tmp_path: Path) -> None:
    """Device passwords sealed before server/sealing.py existed still open."""
    (tmp_path / "secret-key").write_bytes(os.urandom(32).hex().encode())
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"xunjian device credentials v1"
    ).derive((tmp_path / "secret-key").read_bytes().strip())
    old = Fernet(base64.urlsafe_b64encode(derived)).encrypt(b"Admin@huawei").decode()
    assert unseal(tmp_path, old) == "Admin@huawei"
    assert Sealer(tmp_path, CREDENTIAL_PURPOSE).unseal(old) == "Admin@huawei"
    # Another purpose is another key: a channel secret never opens as a device password.
    assert Sealer(tmp_path, PURPOSE).unseal(old) is None


def test_the_secret_fields_are_the_notifiers_hidden_ones() -> None:
    assert secret_fields("webhook") == ("secret",)
    assert secret_fields("email") == ("password",)
    assert set(secret_fields("dingtalk")) == {"webhook_url", "secret"}
    assert secret_fields("wecom") == ("webhook_url",)


def test_console_saves_seal_and_deliveries_still_sign(
    server: Server, admin: FlaskClient, agent: SignedAgent, receiver: Receiver
) -> None:
    token = csrf_from(admin, "/settings/channels")
    created = admin.post(
        "/settings/channels/new",
        data={
            "csrf_token": token,
            "kind": "webhook",
            "name": "hook",
            "min_severity": "low",
            "s.url": receiver.url,
            "s.allow_http": "1",
            "s.secret": SECRET,
        },
    )
    assert created.status_code == 302
    robot_url = receiver.url.replace("/hook", f"/robot/send?key={ROBOT_KEY}")
    email = {"host": "mail.example", "from_address": "x@school.cn", "to": ["it@school.cn"]}
    with server.state.sessions() as session:
        # The same sealing for channels saved by other code paths than the form.
        alerting.create_channel(
            session,
            server.state.config,
            "admin",
            "robot",
            "wecom",
            "low",
            {"webhook_url": robot_url, "allow_http": True},
            data=server.data,
        )
        alerting.create_channel(
            session,
            server.state.config,
            "admin",
            "mail",
            "email",
            "critical",
            {**email, "username": "alerts", "password": SMTP_PASSWORD},
            data=server.data,
        )
        session.commit()
    for name, secret in [("hook", SECRET), ("robot", ROBOT_KEY), ("mail", SMTP_PASSWORD)]:
        stored = raw_settings(server, name)
        assert secret not in stored and MARKER in stored, name
    # Non-secret settings stay readable (and searchable) in the row.
    assert "mail.example" in raw_settings(server, "mail")

    send(agent, [result("a.b", "fail")])
    delivery = ChannelDelivery(server.state.engine, server.state.config, server.data)
    delivery.tick()  # the mail channel is for critical alerts only: nothing goes to it
    by_path = dict(zip(receiver.paths, receiver.requests, strict=True))
    headers, body = by_path["/hook"]
    assert headers[SIGNATURE_HEADER] == webhook_signature(SECRET, headers[TIMESTAMP_HEADER], body)
    # The robot was called at its real address, key and all (the receiver is no WeCom and
    # answers without WeCom's result code, so that delivery itself is retried later).
    assert sorted(receiver.paths) == ["/hook", f"/robot/send?key={ROBOT_KEY}"]


def test_a_plain_row_from_an_older_release_still_sends_and_is_sealed_at_its_next_save(
    server: Server, admin: FlaskClient, agent: SignedAgent, receiver: Receiver
) -> None:
    with server.state.sessions() as session:
        alerting.create_channel(
            session,
            server.state.config,
            "admin",
            "hook",
            "webhook",
            "low",
            receiver.settings(),
            data=server.data,
        )
        session.commit()
    # What the previous release stored: the secret in plain text.
    with server.state.engine.begin() as connection:
        connection.execute(
            update(NotifyChannelRow)
            .where(NotifyChannelRow.name == "hook")
            .values(settings=receiver.settings(secret=SECRET))
        )
    assert SECRET in raw_settings(server, "hook")
    send(agent, [result("a.b", "fail")])
    assert ChannelDelivery(server.state.engine, server.state.config, server.data).tick().sent == 1
    [(headers, body)] = receiver.requests
    assert headers[SIGNATURE_HEADER] == webhook_signature(SECRET, headers[TIMESTAMP_HEADER], body)
    # The next save through the console (the secret left blank: kept) seals it.
    token = csrf_from(admin, "/settings/channels/hook")
    saved = admin.post(
        "/settings/channels/hook",
        data={
            "csrf_token": token,
            "min_severity": "low",
            "s.url": receiver.url,
            "s.allow_http": "1",
            "s.secret": "",
        },
    )
    assert saved.status_code == 302
    stored = raw_settings(server, "hook")
    assert SECRET not in stored and MARKER in stored
    with server.state.sessions() as session:
        _kind, settings = alerting.stored_settings(
            session, server.state.config, "hook", data=server.data
        )
    assert settings["secret"] == SECRET


def test_a_secret_sealed_under_another_key_fails_that_channel_only(
    server: Server,
    admin: FlaskClient,
    agent: SignedAgent,
    receiver: Receiver,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    other = tmp_path / "other-data"
    other.mkdir()
    (other / "secret-key").write_bytes(os.urandom(32).hex().encode())
    with server.state.sessions() as session:
        for name in ("good", "lost"):
            alerting.create_channel(
                session,
                server.state.config,
                "admin",
                name,
                "webhook",
                "low",
                receiver.settings(secret=SECRET),
                data=server.data,
            )
        session.commit()
    # "lost" as a database restored without its secret-key would hold it.
    foreign = MARKER + Sealer(other, PURPOSE).seal(SECRET)
    with server.state.engine.begin() as connection:
        connection.execute(
            update(NotifyChannelRow)
            .where(NotifyChannelRow.name == "lost")
            .values(settings=receiver.settings(secret=foreign))
        )
    send(agent, [result("a.b", "fail")])
    with caplog.at_level(logging.ERROR, logger="xunjian.server.alerts"):
        outcome = ChannelDelivery(server.state.engine, server.state.config, server.data).tick()
    assert outcome.sent == 1  # the good channel still works
    assert any(
        "lost" in r.getMessage() and "secret: sealed with another DATA/secret-key" in r.getMessage()
        for r in caplog.records
    )
    with server.state.sessions() as session:
        found = alerting.load_alerting(session, server.state.config, data=server.data)
    assert [c.name for c in found.channels] == ["good"]
    [(name, reason)] = found.broken
    assert name == "lost" and "secret-key" in reason
    # The console shows the problem; editing asks for the secret again instead of a crash.
    page = admin.get("/settings/channels").get_data(as_text=True)
    assert "secret-key" in page
    with server.state.sessions() as session:
        _kind, settings = alerting.stored_settings(
            session, server.state.config, "lost", data=server.data
        )
    assert "secret" not in settings and settings["url"] == receiver.url
    assert admin.get("/settings/channels/lost").status_code == 200
    # Saved with the secret left blank, the channel would silently stop signing: refused.
    form = {
        "csrf_token": csrf_from(admin, "/settings/channels/lost"),
        "min_severity": "low",
        "s.url": receiver.url,
        "s.allow_http": "1",
    }
    refused = admin.post("/settings/channels/lost", data=form)
    assert refused.status_code == 400
    assert "cannot be opened with this server" in refused.get_data(as_text=True)
    assert foreign in raw_settings(server, "lost")  # nothing changed
    # Entered again, it is sealed under this server's key and opens.
    form["csrf_token"] = csrf_from(admin, "/settings/channels/lost")
    saved = admin.post("/settings/channels/lost", data={**form, "s.secret": SECRET + "-new"})
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    with server.state.sessions() as session:
        found = alerting.load_alerting(session, server.state.config, data=server.data)
        assert alerting.lost_secrets(session, "lost", data=server.data) == frozenset()
    assert {c.name: c.settings.get("secret") for c in found.channels}["lost"] == SECRET + "-new"


def test_unsealing_names_the_field_never_the_value(tmp_path: Path) -> None:
    (tmp_path / "secret-key").write_bytes(b"k" * 64)
    sealed = MARKER + Sealer(tmp_path, PURPOSE).seal(SECRET)
    (tmp_path / "secret-key").write_bytes(b"z" * 64)
    with pytest.raises(UnsealError) as failed:
        unseal_settings(Sealer(tmp_path, PURPOSE), "webhook", {"url": "x", "secret": sealed})
    assert failed.value.field == "secret" and SECRET not in str(failed.value)
    assert sealed[len(MARKER) :] not in str(failed.value)
