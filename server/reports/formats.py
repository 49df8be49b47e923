"""The three forms of a weekly report, each written in one pass over the spooled rows.

* CSV and XLSX: for people, in the reader's language (``server/reports/readable.py``): a zip
  of CSV files, one table each, or one XLSX sheet per table (streamed by
  ``server/reports/xlsx.py``). A kept report has both in Chinese and in English: its files are
  keyed ``csv-zh``, ``xlsx-en``, ... (``file_key``). Scripts should read the JSON.
* JSON: canonical (sorted keys, no whitespace) and signed with Ed25519; see
  ``server/reports/verify.py`` for the exact form and ``xunjian report verify``.

In CSV and XLSX a text cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return
gets a leading apostrophe, so a hostname or message an agent sent is never run as a formula by
a spreadsheet. The JSON carries every value unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.reports.collect import COLUMNS, WeekData
from server.reports.signing import signature_block
from server.reports.verify import canonical

FORMATS = ("csv", "xlsx", "json")
CONTENT_TYPES = {
    "csv": "application/zip",  # one CSV file per table
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def file_name(week: str, form: str, language: str = "") -> str:
    """``xunjian-weekly-2026-W47.json``; a readable form names its language
    (``xunjian-weekly-2026-W47-zh.xlsx``, ``...-en-csv.zip``)."""
    if form == "json" or not language:
        return f"xunjian-weekly-{week}.{form}"
    if form == "csv":
        return f"xunjian-weekly-{week}-{language}-csv.zip"
    return f"xunjian-weekly-{week}-{language}.{form}"


def file_key(form: str, language: str) -> str:
    """The key of a kept report's file: ``json``, or a readable form in one language."""
    return form if form == "json" else f"{form}-{language}"


def spreadsheet_text(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


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
    width = len(COLUMNS)  # a row may carry more for the readable forms (the sentence's id)
    for row in data.rows():
        piece = encode(list(row[:width])).encode("utf-8")
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


def writer_for(
    form: str, key: Ed25519PrivateKey, language: str = "en", zone: str = "UTC"
) -> Writer:
    """The writer of ``form``; the readable forms in ``language``, times in ``zone``."""
    from server.policy import check_catalog
    from server.reports.readable import Readable, check_texts, write_csv_zip, write_xlsx

    if form in ("csv", "xlsx"):
        write = write_csv_zip if form == "csv" else write_xlsx
        texts = check_texts(check_catalog())
        return lambda data, out: write(Readable(data, language, zone, texts), out)
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
