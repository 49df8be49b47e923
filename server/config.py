"""The server's data folder and its ``config.json``: one place that says where everything is.

Layout of a data folder (made by ``xunjian server init``)::

    DIR/                      0700
      config.json             0600  settings below
      secret-key              0600  Flask secret key (signs the console's session cookie)
      initial-admin-password  0600  the first admin's one-time password
      ca/ca.pem, ca/ca.key          the product's own CA (key 0600)
      tls/server.pem, tls/server.key  the HTTPS certificate issued by that CA (key 0600)
      xunjian.sqlite3               the embedded database, unless database_url says otherwise
      oplog-signing.key       0600  signs the operation log's checkpoints (kept out of the DB)
      oplog-signing.pub             its public key, for auditors who verify offline
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.alerts.channels import Channel, ChannelError, apply_roster, parse_channels
from server.monitors.settings import (
    DEFAULT_DIGEST_TIME,
    DEFAULT_DIGEST_TIMEZONE,
    DEFAULT_RAW_RETENTION_DAYS,
    DEFAULT_THREADS,
    allowed_networks,
)
from server.monitors.settings import settings_problem as monitor_settings_problem
from server.oplog.settings import (
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_RETENTION_DAYS,
    checkpoint_problem,
    retention_problem,
)
from server.peer import TrustedProxyError, parse_trusted_proxies
from xunjian.core.contract import DEFAULT_MAX_BODY_BYTES
from xunjian.core.probe import AddressPolicy
from xunjian.core.wire import FRESHNESS_WINDOW_SECONDS

CONFIG_NAME = "config.json"
SECRET_KEY_NAME = "secret-key"
INITIAL_PASSWORD_NAME = "initial-admin-password"
DEFAULT_SERVER_URL = "https://127.0.0.1:8443"
# Evidence archives (POLICY.md A3, docs/incidents.md "Retention"): kept this many days after
# they arrived, then purged by the scheduled job, logged; an archive of a case still open is
# kept whatever its age. The floor leaves a month to notice an incident and open its case; the
# default matches the operation log's six months, so the log still names every archive kept.
DEFAULT_EVIDENCE_RETENTION_DAYS = 180
MIN_EVIDENCE_RETENTION_DAYS = 30
MAX_EVIDENCE_RETENTION_DAYS = 100 * 365
# Results and their history (the reports, the result states, a report's gaps): the weekly scan
# log auditors pull (POLICY.md A4) is made from them, and logs are kept at least six months by
# national law (POLICY.md E12). The operation log's floor is the site rule's 60 days; this one
# is the law's, because a week purged from the history can no longer be reported.
DEFAULT_RESULTS_RETENTION_DAYS = 180
MIN_RESULTS_RETENTION_DAYS = 180
MAX_RESULTS_RETENTION_DAYS = 100 * 365


class ConfigError(Exception):
    """The data folder or its config.json is missing or invalid; the message says which."""


@dataclass(frozen=True)
class ServerConfig:
    database_url: str
    server_url: str = DEFAULT_SERVER_URL
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    heartbeat_interval_seconds: int = 60
    scan_interval_seconds: int = 3600
    freshness_window_seconds: int = FRESHNESS_WINDOW_SECONDS
    # The console: idle sessions end, and repeated failed logins lock out an address+name pair.
    session_idle_seconds: int = 30 * 60
    login_max_failures: int = 5
    login_lockout_seconds: int = 15 * 60
    console_language: str = "zh"
    # Times in the console, commands, reports and messages are shown in this zone (stored
    # times are UTC). Left out, the server's own zone: the clock its people already read.
    console_timezone: str = field(default_factory=lambda: system_timezone())
    # Processes serving HTTPS (one Python process uses one core at a time); 1 = one process.
    workers: int = 2
    # The operation log (server/oplog): kept this many days (POLICY.md E12: never below 60),
    # and its chain head signed every this many entries.
    oplog_retention_days: int = DEFAULT_RETENTION_DAYS
    oplog_checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    # Evidence archives are purged this many days after they arrived (see above).
    evidence_retention_days: int = DEFAULT_EVIDENCE_RETENTION_DAYS
    # Reports made and result states ended this many days ago are purged (see above).
    results_retention_days: int = DEFAULT_RESULTS_RETENTION_DAYS
    # Alerts (docs/alerts.md): how often each server process sweeps for silent agents.
    alert_sweep_seconds: int = 30
    # The dashboard's compliance counts (server/fleet/jobs.py) are at most this old.
    fleet_recount_seconds: int = 300
    # Page monitors (server/monitors/settings.py, docs/monitors.md).
    monitor_threads: int = DEFAULT_THREADS
    monitor_raw_retention_days: int = DEFAULT_RAW_RETENTION_DAYS
    monitor_digest_time: str = DEFAULT_DIGEST_TIME
    monitor_digest_timezone: str = DEFAULT_DIGEST_TIMEZONE
    # The non-global networks (CIDR) page monitors may fetch: a school's internal sites.
    # Empty: public addresses only; loopback, private and link-local pages are refused, and
    # cloud metadata addresses always are (xunjian/core/probe.py, docs/monitors.md).
    monitor_allowed_networks: tuple[str, ...] = ()
    # Where alerts are sent: [{name, kind, settings, min_severity}] (server/alerts/channels.py).
    notify_channels: tuple[Channel, ...] = ()
    # Device checks (docs/devices.md): how often each device is checked, the pace and limit of
    # password attempts, the SSH timeout, how often each process looks for due devices, and an
    # optional folder of credential lists replacing the built-in ones.
    device_check_interval_seconds: int = 24 * 3600
    device_attempt_interval_ms: int = 2000
    device_max_attempts: int = 10
    device_connect_timeout_seconds: int = 10
    device_sweep_seconds: int = 30
    device_credentials_dir: str = ""
    # Reverse proxies whose X-Forwarded-For / X-Real-Port headers name the client (addresses or
    # CIDR networks; server/peer.py). Empty: the TCP peer is the client, headers are ignored.
    trusted_proxies: tuple[str, ...] = ()

    @property
    def daily_timezone(self) -> str:
        """The zone of the daily digest and site crawl times: monitor_digest_timezone when set
        apart, else console_timezone ("" means the one zone of the product, issue 13 item 6)."""
        return self.monitor_digest_timezone or self.console_timezone

    @property
    def offline_after_seconds(self) -> int:
        """An agent is offline after three missed heartbeats (docs/architecture.md)."""
        return 3 * self.heartbeat_interval_seconds

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> ServerConfig:
        known = {item.name: item for item in fields(cls)}
        values = dict(values)
        channels = values.pop("notify_channels", [])
        roster = values.pop("oncall_tiers", None)
        proxies = values.pop("trusted_proxies", [])
        networks = values.pop("monitor_allowed_networks", [])
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"unknown settings in {CONFIG_NAME}: {', '.join(unknown)}")
        if "database_url" not in values:
            raise ConfigError(f"{CONFIG_NAME} has no database_url")
        for name, value in values.items():
            expected = int if known[name].type == "int" else str
            # bool is an int in Python; a setting written as true is a mistake, not 1.
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ConfigError(f"{name} in {CONFIG_NAME} must be {expected.__name__}")
            if expected is int and value < 1:
                raise ConfigError(f"{name} in {CONFIG_NAME} must be at least 1")
        if values.get("console_language", "zh") not in {"zh", "en"}:
            raise ConfigError(f"console_language in {CONFIG_NAME} must be zh or en")
        if (zone_problem := _zone_problem(values.get("console_timezone", "UTC"))) is not None:
            raise ConfigError(f"console_timezone in {CONFIG_NAME}: {zone_problem}")
        problem = retention_problem(
            values.get("oplog_retention_days", DEFAULT_RETENTION_DAYS)
        ) or checkpoint_problem(values.get("oplog_checkpoint_every", DEFAULT_CHECKPOINT_EVERY))
        problem = problem or evidence_retention_problem(
            values.get("evidence_retention_days", DEFAULT_EVIDENCE_RETENTION_DAYS)
        )
        problem = problem or results_retention_problem(
            values.get("results_retention_days", DEFAULT_RESULTS_RETENTION_DAYS)
        )
        problem = problem or monitor_settings_problem(values)
        if problem:
            raise ConfigError(f"{problem} (in {CONFIG_NAME})")
        try:
            parsed = apply_roster(parse_channels(channels), roster)
        except ChannelError as exc:
            raise ConfigError(f"{exc} (in {CONFIG_NAME})") from exc
        try:
            trusted = parse_trusted_proxies(proxies)
        except TrustedProxyError as exc:
            raise ConfigError(f"{exc} (in {CONFIG_NAME})") from exc
        try:
            allowed = allowed_networks(networks)
        except ValueError as exc:
            raise ConfigError(f"monitor_allowed_networks: {exc} (in {CONFIG_NAME})") from exc
        return cls(
            **values,
            notify_channels=parsed,
            trusted_proxies=trusted,
            monitor_allowed_networks=allowed,
        )

    @property
    def monitor_addresses(self) -> AddressPolicy:
        """Where the server's page monitors may fetch from."""
        return AddressPolicy.allowing(self.monitor_allowed_networks)


def utc_offset_text(moment: datetime.datetime) -> str:
    """``+08:00`` for an aware time (``+00:00`` for UTC)."""
    offset = moment.utcoffset() or datetime.timedelta(0)
    sign = "-" if offset < datetime.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def zone_label(zone: str, at: datetime.datetime | None = None) -> str:
    """``Asia/Shanghai (UTC+08:00)``: the zone people read times in, with its offset at ``at``
    (now by default), so a time is never shown without saying which clock it is."""
    moment = (at or datetime.datetime.now(datetime.UTC)).replace(tzinfo=datetime.UTC)
    return f"{zone} (UTC{utc_offset_text(moment.astimezone(ZoneInfo(zone)))})"


def local_time(
    moment: datetime.datetime | None, zone: str, *, seconds: bool = False, named: bool = False
) -> str:
    """A stored time (naive UTC, or aware) in ``zone`` as ``2026-11-23 18:05``; ``named`` adds
    the zone (``2026-11-23 18:05 Asia/Shanghai``) for output that stands alone (a command's
    line, a CSV cell). The one formatting of times for people: console, commands, reports,
    notifications (issue 13 item 6)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    shown = moment.astimezone(ZoneInfo(zone))
    text = shown.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} {zone}" if named else text


def evidence_retention_problem(days: object) -> str | None:
    """Why ``evidence_retention_days`` is unacceptable, or None."""
    if not isinstance(days, int) or isinstance(days, bool):
        return "evidence_retention_days must be a whole number of days"
    if days < MIN_EVIDENCE_RETENTION_DAYS:
        return (
            f"evidence_retention_days is {days}; evidence is kept at least "
            f"{MIN_EVIDENCE_RETENTION_DAYS} days"
        )
    if days > MAX_EVIDENCE_RETENTION_DAYS:
        return f"evidence_retention_days may be at most {MAX_EVIDENCE_RETENTION_DAYS}"
    return None


def results_retention_problem(days: object) -> str | None:
    """Why ``results_retention_days`` is unacceptable, or None."""
    if not isinstance(days, int) or isinstance(days, bool):
        return "results_retention_days must be a whole number of days"
    if days < MIN_RESULTS_RETENTION_DAYS:
        return (
            f"results_retention_days is {days}; results and their history are the scan log "
            f"of the weekly reports, and logs must be kept at least six months by national "
            f"law: at least {MIN_RESULTS_RETENTION_DAYS} days (POLICY.md E12, A4)"
        )
    if days > MAX_RESULTS_RETENTION_DAYS:
        return f"results_retention_days may be at most {MAX_RESULTS_RETENTION_DAYS}"
    return None


# Where Debian and most Linux systems name their zone; /etc/localtime is usually a link into
# the zoneinfo tree, whose path below "zoneinfo/" is the zone's IANA name.
ETC_TIMEZONE = Path("/etc/timezone")
ETC_LOCALTIME = Path("/etc/localtime")


def system_timezone(timezone_file: Path = ETC_TIMEZONE, localtime: Path = ETC_LOCALTIME) -> str:
    """The machine's own zone as an IANA name (issue 13 item 6): /etc/timezone's name, else the
    zone /etc/localtime links to, else UTC. Only a name zoneinfo knows is taken, so the default
    always works; a copied (not linked) /etc/localtime has no name and gives UTC."""
    candidates: list[str] = []
    with contextlib.suppress(OSError, UnicodeDecodeError):
        candidates.append(timezone_file.read_text(encoding="utf-8").strip())
    try:
        target = str(localtime.resolve(strict=True)) if localtime.is_symlink() else ""
    except OSError:
        target = ""
    if "zoneinfo/" in target:
        candidates.append(target.split("zoneinfo/", 1)[1])
    for name in candidates:
        # "posix/Asia/Shanghai" and "right/..." are the same zone under another tree.
        name = name.removeprefix("posix/").removeprefix("right/")
        if name and _zone_problem(name) is None:
            return name
    return "UTC"


def _zone_problem(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)"
    return None


@dataclass(frozen=True)
class DataPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def secret_key(self) -> Path:
        return self.root / SECRET_KEY_NAME

    @property
    def initial_password(self) -> Path:
        return self.root / INITIAL_PASSWORD_NAME

    @property
    def ca_dir(self) -> Path:
        return self.root / "ca"

    @property
    def downloads(self) -> Path:
        """Files the console offers (the agent's MSI: docs/windows-deploy.md)."""
        return self.root / "downloads"

    @property
    def ca_cert(self) -> Path:
        return self.ca_dir / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.ca_dir / "ca.key"

    @property
    def tls_dir(self) -> Path:
        return self.root / "tls"

    @property
    def server_cert(self) -> Path:
        return self.tls_dir / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.tls_dir / "server.key"

    def default_database_url(self) -> str:
        return f"sqlite:///{self.root.resolve() / 'xunjian.sqlite3'}"


def write_private(path: Path, data: bytes) -> None:
    """Create ``path`` readable by the owner only, from the first byte (no chmod afterwards,
    which would leave a window where the secret is world readable). Never overwrites."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def load_config(root: Path, overrides: dict[str, Any] | None = None) -> ServerConfig:
    paths = DataPaths(root)
    try:
        raw = paths.config.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{paths.config} does not exist; create the data folder with "
            f"'xunjian server init --data {root}'"
        ) from exc
    try:
        values = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{paths.config} is not valid JSON: {exc}") from exc
    if not isinstance(values, dict):
        raise ConfigError(f"{paths.config} must hold a JSON object")
    return ServerConfig.from_mapping({**values, **(overrides or {})})


def read_secret_key(root: Path) -> bytes:
    try:
        return DataPaths(root).secret_key.read_bytes().strip()
    except FileNotFoundError as exc:
        raise ConfigError(f"{DataPaths(root).secret_key} is missing") from exc
