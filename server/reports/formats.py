"""The three forms of a weekly report, each written in one pass over the spooled rows.

* CSV: UTF-8 with a byte order mark (so Excel opens Chinese text correctly), CRLF line ends.
  Three blocks separated by an empty line: the report's facts (key, value), the summary per
  group (with an ``(all)`` line), then the results table. Scripts should read the JSON.
* XLSX: streamed by ``server/reports/xlsx.py`` (rows go straight into the zip): sheets
  ``Summary``, ``Hosts`` and ``Results``.
* JSON: canonical (sorted keys, no whitespace) and signed with Ed25519; see
  ``server/reports/verify.py`` for the exact form and ``xunjian report verify``.

In CSV and XLSX a text cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return
gets a leading apostrophe, so a hostname or message an agent sent is never run as a formula by
a spreadsheet. The JSON carries every value unchanged.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.reports.collect import COLUMNS, WeekData
from server.reports.signing import signature_block
from server.reports.verify import canonical
from server.reports.xlsx import Workbook

FORMATS = ("csv", "xlsx", "json")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
SUMMARY_COLUMNS = (
    "group",
    "hosts",
    "hosts_reporting",
    "hosts_silent",
    "results",
    "passed",
    "failed",
    "errors",
    "no_privilege",
    "not_applicable",
    "checks_passed",
    "checks_failed",
    "compliance_percent",
)
HOST_COLUMNS = (
    "group",
    "hostname",
    "id",
    "platform",
    "os",
    "os_version",
    "os_build",
    "reported",
    "reports",
    "first_report",
    "last_report",
    "last_contact",
    "enrolled_at",
    "revoked_at",
    "results",
    "passed",
    "failed",
    "errors",
    "no_privilege",
    "not_applicable",
    "checks_passed",
    "checks_failed",
    "compliance_percent",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def file_name(week: str, form: str) -> str:
    return f"xunjian-weekly-{week}.{form}"


def spreadsheet_text(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _facts(data: WeekData) -> list[tuple[str, Any]]:
    meta = data.meta
    summary = data.summary
    return [
        ("report", "xunjian weekly scan report (POLICY.md A4)"),
        ("week", meta["week"]),
        ("period_start_utc", meta["period"]["start"]),
        ("period_end_utc", meta["period"]["end"]),
        ("timezone", f"{meta['period']['timezone']} (UTC{meta['period']['utc_offset']})"),
        ("complete", meta["complete"]),
        ("generated_at", meta["generated_at"]),
        ("generated_by", meta["generated_by"]),
        ("hosts", summary["hosts"]),
        ("hosts_reporting", summary["hosts_reporting"]),
        ("hosts_silent", summary["hosts_silent"]),
        ("compliance_percent", summary["compliance_percent"]),
    ] + [
        (
            "e13_site",
            f"{site['start_url']}: {site['status']}, {site['broken_links']} broken links in "
            f"{site['pages']} pages (crawled {site['crawled_at'] or 'not in this week'})",
        )
        for site in meta.get("e13_sites", [])
    ]


def _summary_lines(data: WeekData) -> list[list[Any]]:
    lines = [[group[name] for name in SUMMARY_COLUMNS] for group in data.groups()]
    total = {"group": "(all)", **data.summary}
    lines.append([total[name] for name in SUMMARY_COLUMNS])
    return lines


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return spreadsheet_text(value)


def write_csv(data: WeekData, out: IO[bytes]) -> None:
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=False)
    try:
        writer = csv.writer(text)
        writer.writerows([[key, _cell(value)] for key, value in _facts(data)])
        writer.writerow([])
        writer.writerow(SUMMARY_COLUMNS)
        writer.writerows([[_cell(value) for value in line] for line in _summary_lines(data)])
        writer.writerow([])
        writer.writerow(COLUMNS)
        for row in data.rows():
            writer.writerow([_cell(value) for value in row])
        text.flush()
    finally:
        text.detach()  # the caller owns ``out``


def write_xlsx(data: WeekData, out: IO[bytes]) -> None:
    """Sheets Summary (the report's facts and the group table), Hosts and Results."""

    def cells(values: Iterable[Any]) -> list[Any]:
        return [spreadsheet_text(value) for value in values]

    with Workbook(out, ["Summary", "Hosts", "Results"]) as book:
        summary = [cells(pair) for pair in _facts(data)]
        summary.append([])
        summary.append(list(SUMMARY_COLUMNS))
        summary.extend(cells(line) for line in _summary_lines(data))
        book.write_rows(["item", "value"], summary)
        book.write_rows(
            HOST_COLUMNS,
            (cells(host.as_json()[name] for name in HOST_COLUMNS) for host in data.ordered_hosts()),
        )
        book.write_rows(COLUMNS, (cells(row) for row in data.rows()))


class _HashingWriter:
    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.sha256 = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        self.out.write(chunk)


def _members(values: dict[str, Any]) -> bytes:
    """``canonical`` of a dict without its braces: a run of sorted members."""
    return canonical(values)[1:-1]


def report_head_and_tail(data: WeekData) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report's members other than ``rows``, split at ``rows`` in sorted key order."""
    members = {
        "columns": list(COLUMNS),
        **data.meta,
        "groups": data.groups(),
        "hosts": [host.as_json() for host in data.ordered_hosts()],
        "summary": data.summary,
    }
    head = {key: value for key, value in members.items() if key < "rows"}
    tail = {key: value for key, value in members.items() if key > "rows"}
    return head, tail


def write_json(data: WeekData, out: IO[bytes], key: Ed25519PrivateKey) -> str:
    """Write the signed report; returns the SHA-256 of its canonical ``report`` member.

    The bytes written are exactly ``canonical({"report": report, "signature": ...})``: the
    members before ``rows``, the rows one by one, the members after, all in sorted key order."""
    head, tail = report_head_and_tail(data)
    out.write(b'{"report":')
    hashed = _HashingWriter(out)
    hashed.write(b"{" + _members(head) + b',"rows":[')
    encode = json.JSONEncoder(
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode
    first = True
    buffer: list[bytes] = []
    for row in data.rows():
        piece = encode(list(row)).encode("utf-8")
        buffer.append(piece if first else b"," + piece)
        first = False
        if len(buffer) >= 1000:
            hashed.write(b"".join(buffer))
            buffer.clear()
    hashed.write(b"".join(buffer))
    hashed.write(b"]," + _members(tail) + b"}")
    digest = hashed.sha256.hexdigest()
    out.write(b',"signature":' + canonical(signature_block(key, digest)) + b"}")
    return digest


Writer = Callable[[WeekData, IO[bytes]], Any]


def writer_for(form: str, key: Ed25519PrivateKey) -> Writer:
    if form == "csv":
        return write_csv
    if form == "xlsx":
        return write_xlsx
    if form == "json":
        return lambda data, out: write_json(data, out, key)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {form[:20]!r}")


def iter_file(handle: IO[bytes], chunk: int = 256 * 1024) -> Iterable[bytes]:
    with handle:
        while True:
            piece = handle.read(chunk)
            if not piece:
                return
            yield piece
