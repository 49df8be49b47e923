"""The signed JSON weekly report: its canonical encoding and its offline verification.

Imports only the standard library and ``cryptography``, so ``xunjian report verify`` runs on an
auditor's machine with the plain ``pip install xunjian`` (no Flask, no SQLAlchemy).

The file is one JSON object with two members::

    {"report": {...}, "signature": {"algorithm": "Ed25519", "key_id": "<hex>",
                                    "public_key": "<base64 raw key>",
                                    "report_sha256": "<hex>", "value": "<hex>"}}

* ``canonical(value)`` is ``json.dumps(value, sort_keys=True, separators=(",", ":"),
  ensure_ascii=False, allow_nan=False)`` encoded as UTF-8: keys sorted, no whitespace.
* ``report_sha256`` is the SHA-256 of ``canonical(report)``.
* ``value`` is the Ed25519 signature of the ASCII bytes
  ``xunjian-weekly-report-v1\\n<report_sha256>`` (hashing first lets the server sign a report
  it streamed to disk without holding it in memory).
* ``key_id`` is the SHA-256 of the raw 32-byte public key: the fingerprint an auditor compares
  with the server's ``DATA/report-signing.pub`` (``xunjian report verify --public-key``).

The server writes the file as ``canonical`` of the whole object, but verification recomputes
the canonical form of ``report``, so a reader that re-indents the file does not break it; any
change of a value does.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import mmap
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SIGNATURE_TAG = "xunjian-weekly-report-v1"
REPORT_FORMAT = "xunjian-weekly-report"
ALGORITHM = "Ed25519"
SIGNATURE_FIELDS = frozenset({"algorithm", "key_id", "public_key", "report_sha256", "value"})
MAX_FILE_BYTES = 4 * 1024**3


def canonical(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def signed_message(report_sha256: str) -> bytes:
    return f"{SIGNATURE_TAG}\n{report_sha256}".encode("ascii")


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key (the same value the operation log calls ``key_id``)."""
    return hashlib.sha256(raw_public_key(key)).hexdigest()


class ReportInvalid(Exception):
    """The file is not an intact weekly report; the message names the problem."""


@dataclass(frozen=True)
class Verified:
    week: str
    hosts: int
    rows: int
    key_id: str
    pinned: bool  # verified with a key the auditor supplied, not only the file's own
    generated_at: str
    complete: bool


def load_public_key_file(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ReportInvalid(f"cannot read the public key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ReportInvalid(f"{path} is not an Ed25519 public key")
    return key


def _signature_part(document: Any) -> dict[str, str]:
    if not isinstance(document, dict) or set(document) != {"report", "signature"}:
        raise ReportInvalid("not a signed weekly report: expected exactly 'report' and 'signature'")
    signature = document["signature"]
    if (
        not isinstance(signature, dict)
        or set(signature) != SIGNATURE_FIELDS
        or not all(isinstance(value, str) for value in signature.values())
    ):
        raise ReportInvalid(
            f"the signature block must have exactly {', '.join(sorted(SIGNATURE_FIELDS))}"
        )
    if signature["algorithm"] != ALGORITHM:
        raise ReportInvalid(f"unknown signature algorithm {signature['algorithm'][:40]!r}")
    return signature


def _embedded_key(signature: dict[str, str]) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(signature["public_key"], validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise ReportInvalid("the signature's public_key is not a raw Ed25519 key") from exc


def _signing_key(
    signature: dict[str, str], public_key: Ed25519PublicKey | None
) -> Ed25519PublicKey:
    embedded = _embedded_key(signature)
    if fingerprint(embedded) != signature["key_id"]:
        raise ReportInvalid("the signature's key_id does not match its public_key")
    if public_key is not None and fingerprint(public_key) != signature["key_id"]:
        raise ReportInvalid(
            f"signed by a different key: the report names key {signature['key_id'][:16]}..., "
            f"the given public key is {fingerprint(public_key)[:16]}..."
        )
    return public_key or embedded


def _check(signature: dict[str, str], digest: str, key: Ed25519PublicKey) -> None:
    if digest != signature["report_sha256"]:
        raise ReportInvalid(
            "the report's content was changed: its SHA-256 is not the one that was signed"
        )
    try:
        key.verify(bytes.fromhex(signature["value"]), signed_message(digest))
    except (InvalidSignature, ValueError) as exc:
        raise ReportInvalid("the signature does not verify with the report's key") from exc


def _verdict(
    head: dict[str, Any], tail: dict[str, Any], rows: int, key_id: str, pinned: bool
) -> Verified:
    hosts = head.get("hosts")
    return Verified(
        week=str(tail.get("week", "")),
        hosts=len(hosts) if isinstance(hosts, list) else 0,
        rows=rows,
        key_id=key_id,
        pinned=pinned,
        generated_at=str(head.get("generated_at", "")),
        complete=bool(head.get("complete")),
    )


def verify_document(document: Any, public_key: Ed25519PublicKey | None = None) -> Verified:
    """Check a parsed report; raises ReportInvalid naming the first problem found."""
    signature = _signature_part(document)
    report = document["report"]
    if not isinstance(report, dict) or report.get("format") != REPORT_FORMAT:
        raise ReportInvalid(f"the report's format is not {REPORT_FORMAT!r}")
    key = _signing_key(signature, public_key)
    try:
        digest = hashlib.sha256(canonical(report)).hexdigest()
    except ValueError as exc:  # NaN or infinity: never written by the server
        raise ReportInvalid(f"the report holds a value JSON cannot carry: {exc}") from exc
    _check(signature, digest, key)
    rows = report.get("rows")
    return _verdict(
        report,
        report,
        len(rows) if isinstance(rows, list) else 0,
        signature["key_id"],
        public_key is not None,
    )


_REPORT_START = b'{"report":'
_SIGNATURE_START = b',"signature":'
_ROWS_START = b',"rows":['
_SUMMARY_START = b'],"summary":'


def _verify_as_written(raw: Any, public_key: Ed25519PublicKey | None) -> Verified | None:
    """The fast path for a file exactly as the server wrote it (``canonical`` of the whole
    object): hash the report's bytes where they lie and parse only the small members around
    ``rows``, so a 10,000-host report is checked without building it in memory. None when the
    file is laid out otherwise, or its hash differs (the full check then says why)."""
    if raw[: len(_REPORT_START)] != _REPORT_START or raw[-1:] != b"}":
        return None
    # Quotes inside JSON strings are escaped, so these markers occur only as the members
    # themselves: "signature" after the report, "rows" and "summary" in the report's top level.
    end = raw.rfind(_SIGNATURE_START)
    if end < 0:
        return None
    try:
        signature = _signature_part(
            {"report": None, "signature": json.loads(bytes(raw[end + len(_SIGNATURE_START) : -1]))}
        )
    except (ReportInvalid, UnicodeDecodeError, json.JSONDecodeError):
        return None
    with memoryview(raw) as view:  # released at once: the mmap under it is closed later
        digest = hashlib.sha256(view[len(_REPORT_START) : end]).hexdigest()
    if digest != signature["report_sha256"]:
        return None
    rows_at = raw.find(_ROWS_START, len(_REPORT_START), end)
    summary_at = raw.rfind(_SUMMARY_START, len(_REPORT_START), end)
    if rows_at < 0 or summary_at < rows_at:
        return None
    try:
        head = json.loads(bytes(raw[len(_REPORT_START) : rows_at]) + b"}")
        tail = json.loads(b"{" + bytes(raw[summary_at + 2 : end]))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(head, dict) or head.get("format") != REPORT_FORMAT:
        raise ReportInvalid(f"the report's format is not {REPORT_FORMAT!r}")
    key = _signing_key(signature, public_key)
    _check(signature, digest, key)
    summary = tail.get("summary") if isinstance(tail, dict) else None
    summary = summary if isinstance(summary, dict) else {}
    # One row per result, plus one no_report row per silent host.
    rows = int(summary.get("results", 0)) + int(summary.get("hosts_silent", 0))
    return _verdict(head, tail, rows, signature["key_id"], public_key is not None)


def verify_file(path: Path, public_key_file: Path | None = None) -> Verified:
    public_key = None if public_key_file is None else load_public_key_file(public_key_file)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ReportInvalid(f"{path} is {size} bytes, larger than any weekly report")
        with path.open("rb") as handle:
            if size == 0:
                raise ReportInvalid(f"{path} is empty")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                fast = _verify_as_written(mapped, public_key)
                if fast is not None:
                    return fast
                raw = mapped[:]
    except OSError as exc:
        raise ReportInvalid(f"cannot read {path}: {exc}") from exc
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportInvalid(f"{path} is not valid JSON: {exc}") from exc
    return verify_document(document, public_key)


def verify_command(args: argparse.Namespace) -> int:
    """``xunjian report verify FILE [--public-key PUB]``: 0 intact, 1 with the problem named."""
    try:
        verdict = verify_file(args.file, args.public_key)
    except ReportInvalid as exc:
        print(f"weekly report NOT VALID: {exc}")
        return 1
    state = "complete week" if verdict.complete else "week still in progress when generated"
    print(
        f"weekly report intact: week {verdict.week}, {verdict.hosts} hosts, "
        f"{verdict.rows} rows ({state}, generated {verdict.generated_at})"
    )
    print(f"signed by key {verdict.key_id}")
    if not verdict.pinned:
        print(
            "checked with the key inside the file: compare this fingerprint with the server's "
            "report-signing.pub, or pass --public-key",
            file=sys.stderr,
        )
    return 0
