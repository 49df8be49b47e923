"""``xunjian evidence verify FILE [--public-key KEY]``: check an evidence archive offline, on an
investigator's machine with the plain ``pip install xunjian`` (xunjian/core/evidence.py; no
Flask, no SQLAlchemy). Exit status 0 intact, 1 with the first problem named."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="evidence_command", required=True, metavar="COMMAND")
    p = sub.add_parser("verify", help="verify a signed evidence archive; 1 if changed")
    p.add_argument("file", type=Path, help="the evidence archive (.tar)")
    p.add_argument(
        "--public-key",
        type=Path,
        default=None,
        help="the agent's public key (PEM, or the base64 raw key the server shows as "
        "agent_public_key); default: trust the key inside the archive and print its "
        "fingerprint",
    )
    p.set_defaults(handler=verify_command)


def verify_command(args: argparse.Namespace) -> int:
    from xunjian.core.evidence import EvidenceInvalid, load_public_key, verify_file

    try:
        key = None if args.public_key is None else load_public_key(args.public_key)
        verdict = verify_file(args.file, key)
    except EvidenceInvalid as exc:
        print(f"evidence archive NOT VALID: {exc}")
        return 1
    manifest = verdict.manifest
    print(
        f"evidence archive intact: snapshot {verdict.snapshot_id} of host "
        f"{manifest['hostname']} (agent {manifest['agent_id']}), taken {manifest['taken_at']}, "
        f"{len(verdict.parts)} parts, {verdict.size} bytes"
    )
    for part in verdict.parts:
        print(f"  {part['name']}  {part['size']} bytes  sha256 {part['sha256']}")
    print(f"signed by agent key {verdict.key_id}")
    if not verdict.pinned:
        print(
            "checked with the key inside the archive: compare this fingerprint with the "
            "agent's on the server (key_id), or pass --public-key",
            file=sys.stderr,
        )
    return 0
