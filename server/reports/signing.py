"""The report signing key: Ed25519, created on first use in the data folder beside the
operation log's, by the same helper (server/oplog/signing.py), but a key of its own so the two
kinds of record can be handed out and rotated separately.

``DATA/report-signing.key`` (0600) signs; ``DATA/report-signing.pub`` is for auditors, who pass
it to ``xunjian report verify --public-key``.
"""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.oplog.signing import ensure_ed25519_key
from server.reports.verify import ALGORITHM, fingerprint, raw_public_key, signed_message

KEY_NAME = "report-signing.key"
PUBLIC_KEY_NAME = "report-signing.pub"


def ensure_report_key(data_dir: Path) -> Ed25519PrivateKey:
    return ensure_ed25519_key(data_dir, KEY_NAME, PUBLIC_KEY_NAME, "report signing")


def signature_block(key: Ed25519PrivateKey, report_sha256: str) -> dict[str, str]:
    public = key.public_key()
    return {
        "algorithm": ALGORITHM,
        "key_id": fingerprint(public),
        "public_key": base64.b64encode(raw_public_key(public)).decode("ascii"),
        "report_sha256": report_sha256,
        "value": key.sign(signed_message(report_sha256)).hex(),
    }
