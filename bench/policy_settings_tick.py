"""What the alert worker pays each tick for channels that can change in the console: one
SELECT of the settings version (``AlertingSource.current``), and a full reload of the channels
and roster only after a change.

    .venv/bin/python -m bench.policy_settings_tick --db sqlite
    .venv/bin/python -m bench.policy_settings_tick --db postgresql  # $XUNJIAN_TEST_DATABASE_URL

With 20 webhook channels and 3 tiers in the database, prints the median and p95 of: the
version check when nothing changed, a reload (``load_alerting``: rows read, every channel's
settings validated by its notifier), and a whole ``ChannelDelivery.tick`` with no open alert.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.intake import _database_url, _drop_schema
from server.alerts.delivery import ChannelDelivery
from server.config import ServerConfig
from server.policy_settings import alerting
from server.store.engine import make_engine, make_sessionmaker
from server.store.migrate import upgrade_database

CALLS = 1000
CHANNELS = 20


def _timed(work: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(CALLS):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1e6)
    return times


def _report(label: str, times: list[float]) -> None:
    times.sort()
    p95 = times[int(len(times) * 0.95)]
    print(f"  {label:48} median {statistics.median(times):7.0f} us   p95 {p95:7.0f} us")


def _measure(pg_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = pg_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        engine = make_engine(url)
        upgrade_database(engine)
        sessions = make_sessionmaker(engine)
        config = ServerConfig(database_url=url)
        # Channel secrets are sealed with a key derived from DATA/secret-key.
        data = Path(folder)
        (data / "secret-key").write_bytes(secrets.token_bytes(32).hex().encode())
        with sessions() as session:
            names = [f"hook-{n}" for n in range(CHANNELS)]
            for name in names:
                alerting.create_channel(
                    session,
                    config,
                    "bench",
                    name,
                    "webhook",
                    "low",
                    {"url": "https://hooks.example/x", "secret": "s" * 20},
                    data=data,
                )
            tiers = [
                alerting.Tier(tuple(names[0:2]), (alerting.Person("duty", "13800138000"),), 600),
                alerting.Tier(tuple(names[2:4]), (alerting.Person("head", "h@school.cn"),), 1200),
                alerting.Tier(tuple(names[4:5]), (alerting.Person("principal", "010-66668888"),)),
            ]
            alerting.save_roster(session, config, "bench", tiers, data=data)
            session.commit()
        print(f"{engine.dialect.name}, {CHANNELS} channels, 3 tiers, {CALLS} calls each")
        source = alerting.AlertingSource(engine, config, data=data)
        source.current()
        _report("version check, nothing changed", _timed(source.current))

        def reload() -> None:
            with sessions() as session:
                alerting.load_alerting(session, config, data=data)

        _report("reload after a change (load_alerting)", _timed(reload))
        delivery = ChannelDelivery(engine, config, data)
        delivery.tick()
        _report("ChannelDelivery.tick, no open alert", _timed(delivery.tick))
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    pg_url, schema = _database_url(args.db)
    try:
        _measure(pg_url)
    finally:
        if schema is not None:
            _drop_schema(schema)


if __name__ == "__main__":
    main()
