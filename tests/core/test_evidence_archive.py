"""The evidence archive (xunjian/core/evidence.py): made, read by GNU tar, verified; any one
changed bit anywhere in the file, a byte added, a different key, a part that does not match
its manifest entry: each fails with the reason named."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from xunjian.core.evidence import (
    EvidenceInvalid,
    Part,
    build_archive,
    canonical,
    fingerprint,
    verify_bytes,
    verify_file,
    verify_manifest,
)

FIELDS = {
    "snapshot_id": "0f4d8a7e-1111-4222-8333-444455556666",
    "agent_id": "9b2e6c1d-aaaa-4bbb-8ccc-dddd00001111",
    "hostname": "pc-101",
    "taken_at": "2026-12-07T07:00:00Z",
    "reason": "web shell alert 42",
    "command_id": None,
}
PARTS = [
    Part("processes.json", json.dumps([{"pid": 1, "name": "init"}]).encode()),
    Part("auth-log.txt", "sshd: Failed password for root 来自 203.0.113.9\n".encode() * 30),
]
MTIME = 1_765_090_800


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def archive(key: Ed25519PrivateKey) -> bytes:
    return build_archive(FIELDS, PARTS, key, MTIME)[0]


def test_an_archive_verifies_and_says_what_it_holds(archive: bytes, key: Ed25519PrivateKey) -> None:
    verdict = verify_bytes(archive, key.public_key())
    assert verdict.pinned and verdict.key_id == fingerprint(key.public_key())
    assert verdict.snapshot_id == FIELDS["snapshot_id"]
    assert [(p["name"], p["size"]) for p in verdict.parts] == [
        (part.name, len(part.data)) for part in PARTS
    ]
    assert verdict.parts[1]["sha256"] == hashlib.sha256(PARTS[1].data).hexdigest()
    # The same parts, key and time make the same bytes.
    assert build_archive(FIELDS, PARTS, key, MTIME)[0] == archive


def test_gnu_tar_reads_the_archive(archive: bytes, tmp_path: Path) -> None:
    path = tmp_path / "evidence.tar"
    path.write_bytes(archive)
    tar = shutil.which("tar")
    assert tar, "GNU tar (Debian package tar) is needed"
    listed = subprocess.run([tar, "-tf", str(path)], capture_output=True, text=True, check=True)
    assert listed.stdout.split() == [
        "manifest.json",
        "processes.json",
        "auth-log.txt",
        "signature.json",
    ]
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run([tar, "-xf", str(path), "-C", str(out)], check=True)
    assert (out / "auth-log.txt").read_bytes() == PARTS[1].data
    # Taken apart, the manifest and the signature still verify, and hold each part's hash.
    manifest = verify_manifest(
        (out / "manifest.json").read_bytes(), (out / "signature.json").read_bytes()
    )
    assert manifest["parts"][1]["sha256"] == hashlib.sha256(PARTS[1].data).hexdigest()


def test_every_flipped_bit_fails(archive: bytes) -> None:
    passed = []
    for offset in range(len(archive)):
        for bit in (0x01, 0x80):
            changed = bytearray(archive)
            changed[offset] ^= bit
            try:
                verify_bytes(bytes(changed))
            except EvidenceInvalid:
                continue
            passed.append((offset, bit))
    assert passed == []


def test_bytes_added_or_cut_fail(archive: bytes) -> None:
    for changed in (archive + b"\0" * 512, archive[:-512], archive[:-1], b"\0" * 512 + archive):
        with pytest.raises(EvidenceInvalid):
            verify_bytes(changed)


def test_another_key_is_named(archive: bytes) -> None:
    with pytest.raises(EvidenceInvalid, match="signed by a different key"):
        verify_bytes(archive, Ed25519PrivateKey.generate().public_key())


def test_a_re_signed_archive_with_a_changed_part_fails(
    archive: bytes, key: Ed25519PrivateKey
) -> None:
    """Whoever holds the key could re-sign; without it, replacing a part and its manifest
    entry is caught by the signature, and replacing only the part by the manifest."""
    changed = [PARTS[0], Part("auth-log.txt", b"nothing happened\n")]
    forged = build_archive(FIELDS, changed, Ed25519PrivateKey.generate(), MTIME)[0]
    with pytest.raises(EvidenceInvalid, match="different key"):
        verify_bytes(forged, key.public_key())


def test_part_names_and_members_are_held_to_the_manifest(key: Ed25519PrivateKey) -> None:
    for bad in ("../etc/passwd", "Processes.json", "manifest.json", "a.exe"):
        with pytest.raises(ValueError):
            build_archive(FIELDS, [Part(bad, b"x")], key, MTIME)
    with pytest.raises(ValueError, match="repeat"):
        build_archive(FIELDS, [Part("a.json", b"1"), Part("a.json", b"2")], key, MTIME)
    # A tar of the same members that is not the canonical layout (a plain tarfile writer)
    # is refused, though every member's bytes are the signed ones.
    good = build_archive(FIELDS, PARTS, key, MTIME)[0]
    rebuilt = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(good)) as source,
        tarfile.open(fileobj=rebuilt, mode="w", format=tarfile.GNU_FORMAT) as target,
    ):
        for member in source:
            target.addfile(member, source.extractfile(member))
    with pytest.raises(EvidenceInvalid):
        verify_bytes(rebuilt.getvalue())


def test_verify_file_reports_unreadable_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(EvidenceInvalid, match="cannot read"):
        verify_file(tmp_path / "absent.tar")
    text = tmp_path / "notes.tar"
    text.write_bytes(canonical({"not": "a tar"}) * 200)
    with pytest.raises(EvidenceInvalid):
        verify_file(text)
