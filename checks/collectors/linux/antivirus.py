"""Antivirus products on disk, ClamAV's signature databases, and scan logs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from checks.errors import NoPrivilege
from checks.facts import Antivirus, AntivirusProduct, ScanLog, SignatureDatabase
from checks.host import HostContext
from checks.messages import said

# (product, files that show it is installed, daemon names as /proc/PID/comm shows them).
# comm is cut at 15 characters, so names here are too.
KNOWN_PRODUCTS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "ClamAV",
        ("/usr/bin/clamscan", "/usr/sbin/clamd", "/usr/bin/freshclam", "/usr/bin/clamdscan"),
        ("clamd", "freshclam", "clamonacc"),
    ),
    ("Microsoft Defender for Endpoint", ("/opt/microsoft/mdatp",), ("wdavdaemon",)),
    ("CrowdStrike Falcon", ("/opt/CrowdStrike",), ("falcon-sensor",)),
    ("Trend Micro Deep Security", ("/opt/ds_agent",), ("ds_agent",)),
    ("Sophos Anti-Virus", ("/opt/sophos-av", "/opt/sophos-spl"), ("savd", "sophos_threat_d")),
    ("Trellix/McAfee Endpoint Security", ("/opt/McAfee", "/opt/isec"), ("mfetpd", "isectpd")),
    ("Kaspersky Endpoint Security", ("/opt/kaspersky/kesl",), ("kesl",)),
    ("SentinelOne", ("/opt/sentinelone",), ("s1-agent",)),
    ("Symantec Endpoint Protection", ("/opt/Symantec",), ("rtvscand",)),
)
CLAMAV_DATABASE_DIRS = ("/var/lib/clamav", "/usr/local/share/clamav")
CLAMAV_DATABASES = ("daily", "main", "bytecode")
CVD_HEADER_BYTES = 512
_SCAN_DATE = re.compile(
    r"^(?P<kind>Start|End) Date:\s+(?P<when>\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2})"
)
_MAX_LOG_BYTES = 4 * 1024 * 1024


def parse_cvd_header(header: bytes) -> tuple[int | None, datetime | None]:
    """Version and build time of a .cvd/.cld file from its 512-byte header:
    ClamAV-VDB:build time:version:sigs:functionality level:MD5:dsig:builder:build time (unix).
    """
    text = header[:CVD_HEADER_BYTES].decode("ascii", errors="replace").rstrip(" \0")
    fields = text.split(":")
    if len(fields) < 3 or fields[0] != "ClamAV-VDB":
        return None, None
    version = int(fields[2]) if fields[2].isdigit() else None
    built: datetime | None = None
    if len(fields) >= 9 and fields[8].strip().isdigit():
        built = datetime.fromtimestamp(int(fields[8].strip()), UTC)
    else:
        try:
            # The text form writes the clock with "-" since ":" separates the fields.
            built = datetime.strptime(fields[1], "%d %b %Y %H-%M %z")
        except ValueError:
            built = None
    return version, built


def _signatures(host: HostContext) -> list[SignatureDatabase]:
    found = []
    for folder in CLAMAV_DATABASE_DIRS:
        for name in CLAMAV_DATABASES:
            for suffix in (".cld", ".cvd"):
                path = f"{folder}/{name}{suffix}"
                target = host.path(path)
                if not target.is_file():
                    continue
                try:
                    with target.open("rb") as handle:
                        header = handle.read(CVD_HEADER_BYTES)
                except PermissionError as exc:
                    raise said(NoPrivilege, "facts.unreadable", path=path) from exc
                version, built = parse_cvd_header(header)
                found.append(SignatureDatabase(path, name, version, built))
    return found


def collect_antivirus(host: HostContext) -> Antivirus:
    products = []
    for name, paths, daemons in KNOWN_PRODUCTS:
        present = tuple(path for path in paths if host.path(path).exists())
        if present:
            products.append(AntivirusProduct(name, present, daemons))
    return Antivirus(products=tuple(products), signatures=tuple(_signatures(host)))


def parse_scan_log(text: str) -> tuple[datetime, ...]:
    """When each scan in a `clamscan --log` file ended (its SCAN SUMMARY), in local time."""
    ended = []
    started: datetime | None = None
    for line in text.splitlines():
        match = _SCAN_DATE.match(line.strip())
        if match is None:
            continue
        try:
            when = datetime.strptime(match["when"], "%Y:%m:%d %H:%M:%S").astimezone()
        except ValueError:
            continue
        if match["kind"] == "Start":
            started = when
        else:
            ended.append(when)
            started = None
    if started is not None:
        ended.append(started)  # a scan still running counts from when it started
    return tuple(sorted(ended))


def collect_scan_log(host: HostContext, path: str) -> ScanLog:
    target = host.path(path)
    if not target.is_file():
        return ScanLog(path, False, ())
    try:
        with target.open("rb") as handle:
            size = target.stat().st_size
            handle.seek(max(0, size - _MAX_LOG_BYTES))
            data = handle.read()
    except PermissionError as exc:
        raise said(NoPrivilege, "facts.unreadable", path=path) from exc
    return ScanLog(path, True, parse_scan_log(data.decode("utf-8", errors="replace")))
