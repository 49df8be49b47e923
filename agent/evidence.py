"""Evidence snapshots (POLICY.md I1, "preserve the scene"; docs/incidents.md, "Evidence").

:func:`take_snapshot` collects the scene (checks/collectors/linux/scene.py), writes it as a
signed archive (xunjian/core/evidence.py) into the state folder's ``evidence/`` (0700, the
archive 0600) and queues it in the spool; :func:`upload` sends waiting archives in chunks,
each resumed at the offset the server confirmed, so a restart or a lost link costs at most the
chunk in flight. Isolation calls :func:`take_snapshot` before it changes anything
(``before_isolation``); the server's ``evidence`` command calls it through the runner.

A part that cannot be collected is named in ``errors.json`` with the reason (no privilege, not
applicable, an error), never left out silently.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.spool import Spool, Upload
from agent.state import AgentConfig, AgentState, atomic_write, ensure_private_directory
from agent.transport import Refused, Transport, TransportError
from xunjian.core.contract import (
    EVIDENCE_CHUNK_MAX_BYTES,
    EVIDENCE_CHUNK_MEDIA_TYPE,
    EVIDENCE_PART_MAX_BYTES,
    EVIDENCE_REASON_MAX,
    PATH_EVIDENCE,
    evidence_chunk_path,
)

if TYPE_CHECKING:
    from xunjian.core.evidence import Part

log = logging.getLogger("xunjian.agent.evidence")

EVIDENCE_FOLDER = "evidence"
ARCHIVE_SUFFIX = ".tar"


class SnapshotFailed(Exception):
    """No archive could be made (the key, the disk, the spool); the message says why."""


@dataclass(frozen=True)
class Snapshot:
    """An archive written and queued for upload."""

    id: str
    path: Path
    size: int
    sha256: str
    manifest: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)  # part -> why it is missing


def _json(value: Any) -> bytes:
    # A name read from the OS that is not valid UTF-8 (a file name, a link's target) arrives as
    # lone surrogates (Python's surrogateescape) that UTF-8 cannot encode: the whole snapshot
    # failed on one such file. backslashreplace writes each as a JSON escape (\udcff), so the
    # file stays valid JSON and the exact bytes come back with os.fsencode(json.loads(...)).
    text = json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False)
    return text.encode("utf-8", errors="backslashreplace")


def _bounded(name: str, data: bytes) -> bytes:
    """A part over the contract's bound is cut with a note, never dropped: the scene must
    still be archived when /tmp holds a million files."""
    if len(data) <= EVIDENCE_PART_MAX_BYTES:
        return data
    note = f"\n[cut: {name} was {len(data)} bytes, over the {EVIDENCE_PART_MAX_BYTES} limit]\n"
    return data[: EVIDENCE_PART_MAX_BYTES - len(note)] + note.encode()


def collect_parts(
    root: Path | None,
    kernel_root: Path,
    folders: Sequence[str],
    now: float,
) -> tuple[list[Part], dict[str, str]]:
    """Every part of the scene, and why any is missing. ``root``: the host's files (None: this
    machine); ``kernel_root``: where /proc is read (the running kernel's, "/" but in tests)."""
    # Loaded when a snapshot is taken, not by the idle service (docs/PERFORMANCE.md).
    from checks.collectors.linux import scene
    from checks.errors import CollectError, NoPrivilege, NotApplicable
    from checks.host import HostContext
    from xunjian.core.evidence import Part

    host = HostContext.live() if root is None else HostContext.tree(root)
    kernel = HostContext.tree(kernel_root) if kernel_root != Path("/") else HostContext.live()
    limits = scene.SceneLimits()
    web_roots = [f for f in scene.DEFAULT_WEB_ROOTS if host.path(f).is_dir()]
    collectors: list[tuple[str, Callable[[], Any]]] = [
        ("host.json", lambda: scene.collect_host(kernel, host)),
        ("processes.json", lambda: scene.collect_process_details(kernel, host, limits)),
        ("connections.json", lambda: scene.collect_connections(kernel, limits)),
        ("logins.json", lambda: scene.collect_logins(host, limits)),
        ("auth-log.txt", lambda: scene.collect_auth_log(host, limits)),
        ("scheduled-jobs.json", lambda: scene.collect_jobs(host)),
        (
            "recent-files.json",
            lambda: scene.collect_recent_files(
                host, [*folders, *scene.SCRATCH_FOLDERS, *web_roots], now, limits
            ),
        ),
        ("kernel-modules.json", lambda: scene.collect_modules(kernel)),
    ]
    parts: list[Part] = []
    errors: dict[str, str] = {}
    for name, collect in collectors:
        try:
            value = collect()
        except NoPrivilege as exc:
            errors[name] = f"no_privilege: {exc}"
            continue
        except NotApplicable as exc:
            errors[name] = f"not_applicable: {exc}"
            continue
        except (CollectError, OSError, ValueError) as exc:
            errors[name] = f"error: {exc}"
            continue
        except Exception as exc:  # one broken collector must not cost the whole scene
            log.exception("evidence part %s failed", name)
            errors[name] = f"error: {exc!r}"
            continue
        # Text parts (a log) keep the bytes they were read with, valid UTF-8 or not.
        data = (
            value.encode("utf-8", errors="surrogateescape")
            if isinstance(value, str)
            else _json(value)
        )
        parts.append(Part(name, _bounded(name, data)))
    parts.append(Part("errors.json", _json(errors)))
    return parts, errors


def evidence_folder(state: AgentState) -> Path:
    return state.directory / EVIDENCE_FOLDER


def write_snapshot(
    state: AgentState,
    config: AgentConfig,
    *,
    reason: str = "",
    command_id: str | None = None,
    watch_folders: Sequence[str] = (),
    kernel_root: Path = Path("/"),
    clock: Callable[[], float] = time.time,
) -> Snapshot:
    """Collect the scene and write its signed archive into the state folder (not queued)."""
    from xunjian.core.evidence import build_archive

    now = clock()
    snapshot_id = str(uuid.uuid4())
    root = Path(config.scan_root) if config.scan_root else None
    parts, errors = collect_parts(root, kernel_root, watch_folders, now)
    taken_at = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    fields = {
        "snapshot_id": snapshot_id,
        "agent_id": config.agent_id,
        "hostname": socket.gethostname()[:EVIDENCE_REASON_MAX],
        "taken_at": taken_at,
        "reason": reason[:EVIDENCE_REASON_MAX],
        "command_id": command_id,
    }
    try:
        archive, manifest = build_archive(fields, parts, state.load_key(), int(now))
        folder = evidence_folder(state)
        ensure_private_directory(folder)
        path = folder / f"{snapshot_id}{ARCHIVE_SUFFIX}"
        atomic_write(path, archive)
    except Exception as exc:
        raise SnapshotFailed(f"the evidence archive could not be written: {exc}") from exc
    digest = hashlib.sha256(archive).hexdigest()
    return Snapshot(snapshot_id, path, len(archive), digest, manifest, errors)


def _snapshot_in_child(
    state: AgentState,
    config: AgentConfig,
    reason: str,
    command_id: str | None,
    watch_folders: Sequence[str],
    kernel_root: Path,
) -> Snapshot:
    """``write_snapshot`` in ``python -m agent.evidence_worker``, as scans run (agent/scanning.py):
    the collectors and their garbage leave with the child, and one that hangs (a file on a dead
    network mount) is killed at ``scan_timeout_seconds`` with the commands it started."""
    from agent.scanning import _end

    request = json.dumps(
        {
            "state": str(state.directory),
            "reason": reason,
            "command_id": command_id,
            "watch_folders": list(watch_folders),
            "kernel_root": str(kernel_root),
        }
    ).encode("utf-8")
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "agent.evidence_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=os.name != "nt",
        )
    except OSError as exc:
        raise SnapshotFailed(f"could not start the evidence worker: {exc}") from exc
    try:
        stdout, stderr = child.communicate(request, timeout=config.scan_timeout_seconds)
    except subprocess.TimeoutExpired as exc:
        _end(child)
        child.communicate()
        raise SnapshotFailed(
            f"the snapshot did not finish within {config.scan_timeout_seconds:.0f}s; killed"
        ) from exc
    if child.returncode != 0:
        tail = stderr.decode("utf-8", errors="replace").strip().splitlines()
        log.warning("evidence worker exited %d:\n%s", child.returncode, "\n".join(tail[-20:]))
        raise SnapshotFailed(
            f"the evidence worker exited {child.returncode}: {tail[-1] if tail else ''}"
        )
    try:
        answer = json.loads(stdout)
        return Snapshot(
            str(answer["id"]),
            Path(answer["path"]),
            int(answer["size"]),
            str(answer["sha256"]),
            dict(answer["manifest"]),
            dict(answer["errors"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SnapshotFailed(f"the evidence worker's answer is unreadable: {exc!r}") from exc


def take_snapshot(
    state: AgentState,
    config: AgentConfig,
    spool: Spool | None,
    *,
    reason: str = "",
    command_id: str | None = None,
    watch_folders: Sequence[str] = (),
    kernel_root: Path = Path("/"),
    in_process: bool | None = None,
) -> Snapshot:
    """Take the scene now, sign it with the agent's key, keep it in the state folder and queue
    it in ``spool`` (None: keep it only). Raises SnapshotFailed when no archive could be made;
    a part that could not be collected is only named in ``errors.json``.

    ``watch_folders``: the policy's watched folders, searched for recent changes beside /tmp,
    /var/tmp, /dev/shm and /var/www. The host's files are read under ``config.scan_root``
    when set (a host tree), the kernel's /proc under ``kernel_root``. ``in_process`` (default:
    the agent's ``scan_in_process``): collect here rather than in a child process."""
    if in_process if in_process is not None else config.scan_in_process:
        snapshot = write_snapshot(
            state,
            config,
            reason=reason,
            command_id=command_id,
            watch_folders=watch_folders,
            kernel_root=kernel_root,
        )
    else:
        snapshot = _snapshot_in_child(state, config, reason, command_id, watch_folders, kernel_root)
    if spool is not None:
        try:
            spool.add_upload(
                snapshot.id,
                snapshot.path,
                snapshot.size,
                snapshot.sha256,
                command_id,
                reason[:EVIDENCE_REASON_MAX],
            )
        except Exception as exc:
            raise SnapshotFailed(f"archive {snapshot.path} kept, but not queued: {exc}") from exc
    log.info(
        "evidence snapshot %s: %d bytes, %d parts%s",
        snapshot.id,
        snapshot.size,
        len(snapshot.manifest.get("parts", [])),
        f", missing {sorted(snapshot.errors)}" if snapshot.errors else "",
    )
    return snapshot


# -- upload ---------------------------------------------------------------------------------------
class UploadRefused(Exception):
    """The server will never take this archive (a 4xx that trying again cannot heal)."""


def _progress(answer: Any, upload: Upload) -> tuple[int, bool, int]:
    """``(received, complete, chunk_bytes)`` from the server's answer."""
    if not isinstance(answer, dict):
        raise TransportError("the evidence answer is not a JSON object")
    received, complete = answer.get("received"), answer.get("complete")
    chunk = answer.get("chunk_bytes")
    if (
        isinstance(received, bool)
        or not isinstance(received, int)
        or not 0 <= received <= upload.size
        or not isinstance(complete, bool)
        or isinstance(chunk, bool)
        or not isinstance(chunk, int)
        or chunk < 1
    ):
        raise TransportError(f"the evidence answer is not the agreed shape: {answer!r:.200}")
    return received, complete, chunk


def upload_one(
    transport: Transport,
    spool: Spool,
    upload: Upload,
    chunk_bytes: int,
    budget: int | None,
    stopping: Callable[[], bool] = lambda: False,
) -> bool:
    """Send one archive from where the server stands; True when the server holds all of it.
    At most ``budget`` bytes are sent in this call (None: all). TransportError when the server
    cannot be reached or answers oddly; UploadRefused when it refuses the archive for good."""
    chunk_bytes = max(1, min(chunk_bytes, EVIDENCE_CHUNK_MAX_BYTES))
    start = {
        "id": upload.id,
        "size": upload.size,
        "sha256": upload.sha256,
        "command_id": upload.command_id,
        "reason": upload.reason,
    }
    try:
        received, complete, most = _progress(transport.post_json(PATH_EVIDENCE, start), upload)
        # The server may take smaller chunks than ours (a lower body limit than the default).
        chunk_bytes = min(chunk_bytes, most)
        spent = 0
        with upload.path.open("rb") as handle:
            while not complete and not stopping():
                if budget is not None and spent >= budget:
                    return False
                handle.seek(received)
                chunk = handle.read(chunk_bytes)
                if not chunk:
                    raise UploadRefused(f"{upload.path} is shorter than the {upload.size} queued")
                answer = transport.request(
                    "PUT",
                    evidence_chunk_path(upload.id, received),
                    chunk,
                    content_type=EVIDENCE_CHUNK_MEDIA_TYPE,
                ).json()
                spent += len(chunk)
                received, complete, _ = _progress(answer, upload)
                spool.upload_progress(upload.id, received)
    except Refused as exc:
        if exc.retryable:
            raise
        raise UploadRefused(f"HTTP {exc.status}: {exc.error}") from exc
    except OSError as exc:  # the archive itself is gone or unreadable: it cannot be sent
        raise UploadRefused(f"{upload.path}: {exc}") from exc
    return complete


def set_aside(path: Path) -> Path:
    """Keep an archive the server refused for good beside the others, renamed, for a person."""
    aside = path.with_name(path.name + ".refused")
    try:
        path.rename(aside)
    except OSError:
        return path
    return aside
