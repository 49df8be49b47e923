"""Issue 13 item 6: one time zone everywhere, the one config.json's ``console_timezone`` gives,
shown with its name: the console (every page's footer), the dashboard's days and weeks, the
``xunjian server`` commands, notifications, and the daily digest unless set apart."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server.alerts.delivery import message_for
from server.alerts.models import Alert
from server.config import ServerConfig, load_config, local_time, system_timezone, zone_label
from server.fleet.jobs import refresh_compliance
from server.fleet.models import ComplianceDaily
from server.notify.render import fields
from tests.data_folder import run_xunjian
from tests.server.conftest import Server
from tests.server.test_fleet import person

ZONE = "Europe/Berlin"  # not the default, so a time shown in the default zone fails


@pytest.fixture
def server_settings() -> dict[str, object]:
    return {"console_timezone": ZONE}


# Monday 23 November 2026, 03:30 in Shanghai: still Sunday the 22nd in UTC.
EARLY_MONDAY_UTC = datetime.datetime(2026, 11, 22, 19, 30)


def test_the_default_zone_is_the_machines_own(tmp_path: Path) -> None:
    """Left out of config.json, console_timezone is the zone the machine names: /etc/timezone,
    else the zone /etc/localtime links to, else UTC (a copied localtime has no name)."""
    named = tmp_path / "timezone"
    named.write_text("Asia/Shanghai\n", encoding="utf-8")
    zoneinfo = tmp_path / "usr" / "share" / "zoneinfo" / "Europe"
    zoneinfo.mkdir(parents=True)
    (zoneinfo / "Berlin").write_bytes(b"TZif")
    link = tmp_path / "localtime"
    link.symlink_to(zoneinfo / "Berlin")
    copied = tmp_path / "copied-localtime"
    copied.write_bytes(b"TZif")
    missing = tmp_path / "missing"
    assert system_timezone(named, link) == "Asia/Shanghai"
    assert system_timezone(missing, link) == "Europe/Berlin"
    assert system_timezone(missing, copied) == "UTC"
    named.write_text("Not/A_Zone\n", encoding="utf-8")
    assert system_timezone(named, missing) == "UTC"
    assert ServerConfig(database_url="sqlite://").console_timezone == system_timezone()


def test_local_time_and_the_zone_label() -> None:
    assert local_time(EARLY_MONDAY_UTC, "Asia/Shanghai") == "2026-11-23 03:30"
    assert local_time(EARLY_MONDAY_UTC, "Europe/Berlin", named=True) == (
        "2026-11-22 20:30 Europe/Berlin"
    )
    assert zone_label("Asia/Shanghai", EARLY_MONDAY_UTC) == "Asia/Shanghai (UTC+08:00)"
    assert zone_label("America/New_York", EARLY_MONDAY_UTC) == "America/New_York (UTC-05:00)"


def test_every_page_names_the_zone_and_shows_times_in_it(server: Server) -> None:
    admin = person(server, "admin", "admin")
    page = admin.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert re.search(
        r'<footer class="time-zone">Times are in Europe/Berlin \(UTC\+0[12]:00\)\.</footer>', page
    )
    chinese = admin.get("/hosts", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "时间均为 Europe/Berlin (UTC+0" in chinese


def test_the_dashboard_counts_days_in_the_console_zone(server: Server) -> None:
    """A count taken at 03:30 on Monday in Shanghai belongs to Monday (and to its week), not to
    UTC's Sunday."""
    assert refresh_compliance(server.state.engine, EARLY_MONDAY_UTC, zone="Asia/Shanghai")
    with server.state.sessions() as session:
        days = set(session.scalars(select(ComplianceDaily.day)))
    assert days <= {datetime.date(2026, 11, 23)} and days


def test_commands_print_times_in_the_zone_with_its_name(server: Server) -> None:
    status, out, err = run_xunjian(
        "server", "token", "create", "--expires", "24h", "--data", str(server.data)
    )
    assert status == 0, err
    expires = re.search(r"expires (\d{4}-\d\d-\d\d \d\d:\d\d) Europe/Berlin\.", out)
    assert expires is not None, out
    shown = datetime.datetime.strptime(expires.group(1), "%Y-%m-%d %H:%M").replace(
        tzinfo=ZoneInfo(ZONE)
    )
    in_a_day = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=24)
    assert abs(shown - in_a_day) < datetime.timedelta(minutes=5)

    status, out, err = run_xunjian("server", "agent", "list", "--data", str(server.data))
    assert status == 0, err
    assert "last seen (Europe/Berlin)" in out.splitlines()[0]


def test_notifications_give_the_time_in_the_console_zone_named() -> None:
    alert = Alert(
        id=7,
        kind="check_failed",
        severity="high",
        agent_id="a",
        check_id="firewall.enabled",
        resource="host",
        message="firewall off",
        opened_at=EARLY_MONDAY_UTC,
    )
    message = message_for(alert, "pc-7", zone="Asia/Shanghai")
    opened = {field.label: field.value for field in fields(message, "en")}
    assert "2026-11-23 03:30:00 Asia/Shanghai (UTC+08:00)" in opened.values()


@pytest.mark.parametrize(
    ("settings", "zone"),
    [({}, ZONE), ({"monitor_digest_timezone": "Asia/Tokyo"}, "Asia/Tokyo")],
)
def test_the_digest_uses_the_console_zone_unless_set_apart(
    server: Server, settings: dict[str, str], zone: str
) -> None:
    config = load_config(server.data, settings)
    assert (config.monitor_digest_timezone or config.console_timezone) == zone
