"""Watch web roots and upload folders; turn what changed into bounded batches of file events.

How it works:

* watchdog (inotify on Linux, ReadDirectoryChangesW on Windows) only *marks* paths as
  pending; nothing is read in its callback thread. At most ``max_pending`` paths are kept;
  past that the folder is marked for a rescan instead, so a bulk copy costs bounded memory.
* ``drain()``, called by the agent's watch job every few seconds, examines each pending path
  against the snapshot (a SQLite table in the agent's state folder: size, mtime, SHA-256,
  owner): created, modified and deleted files become events; a deletion and a creation with
  the same hash in one batch become one ``moved``. New and changed files in upload folders
  are screened (web-shell signatures, sensitive words); web roots for web shells only.
* One drain returns at most ``max_events`` events: every event with a finding first, then
  others; the rest become one ``summary`` event per folder and action with a count. The job's
  interval bounds how often a batch goes out, so ten thousand copied files cost a few small
  reports, not ten thousand.
* A rescan (at start, every ``rescan_seconds``, after an overflow, when a folder comes back)
  walks the folder and compares it with the snapshot: what changed while the agent was
  stopped is reported like a live change. A folder that vanishes is reported once
  (``folder_missing``), unwatched, and watched again when it is back (``folder_back``).
* Names are bytes on Linux, and not every name is UTF-8 (``shell\\xff.php``). Python hands
  them over with surrogate escapes; the snapshot keeps such a name as its bytes and an event
  shows it with backslash escapes (``agent.report.readable_text``), so one odd name blinds
  nothing.
* One path that cannot be examined (an unexpected error, not a vanished file) is counted in
  ``unreadable`` and skipped; the rest of the batch goes on.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.report import readable_text
from agent.watch.screening import screen
from xunjian.core.contract import FILE_EVENT_ERROR_MAX, FILE_PATH_MAX, WATCH_KINDS

log = logging.getLogger("xunjian.agent.watch")

KIND_WEB_ROOT, KIND_UPLOAD = WATCH_KINDS
MAX_PATH = FILE_PATH_MAX
HASH_MAX_BYTES = 256 * 1024 * 1024  # bigger files are reported without a hash
SCREEN_MAX_BYTES = 2 * 1024 * 1024  # web shells are small; documents are read in their head


@dataclass(frozen=True)
class WatchFolder:
    path: str
    kind: str  # KIND_WEB_ROOT | KIND_UPLOAD


@dataclass(frozen=True)
class WatchLimits:
    max_pending: int = 20_000
    max_events: int = 200
    max_walk_files: int = 200_000
    rescan_seconds: float = 3600.0


@dataclass
class _Known:
    size: int
    mtime_ns: int
    sha256: str | None
    owner: str


def _now_text() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def _key(path: str) -> str | bytes:
    """The snapshot's key: the text when it is UTF-8 (as before), else the name's bytes.
    SQLite's TEXT takes only UTF-8, and an escaped text could clash with a real name that
    holds a backslash; a BLOB key cannot."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def _owner(info: os.stat_result) -> str:
    try:
        import pwd

        return pwd.getpwuid(info.st_uid).pw_name[:64]
    except (ImportError, KeyError):
        return str(getattr(info, "st_uid", ""))[:64]


def _digest(path: str, limit: int) -> tuple[str | None, bytes]:
    """(SHA-256 or None when too big, the file's first SCREEN_MAX_BYTES)."""
    digest = hashlib.sha256()
    head = b""
    read = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            if read < SCREEN_MAX_BYTES:
                head += chunk[: SCREEN_MAX_BYTES - read]
            read += len(chunk)
            if read > limit:
                return None, head
            digest.update(chunk)
    return digest.hexdigest(), head


class Snapshot:
    """What the watcher last saw of each file, kept across restarts."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, folder TEXT NOT NULL, "
            "size INTEGER, mtime_ns INTEGER, sha256 TEXT, owner TEXT)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS files_folder ON files (folder)")

    def get(self, path: str) -> _Known | None:
        row = self._db.execute(
            "SELECT size, mtime_ns, sha256, owner FROM files WHERE path = ?", (_key(path),)
        ).fetchone()
        return None if row is None else _Known(*row)

    def paths(self, folder: str) -> Iterator[str]:
        for (path,) in self._db.execute("SELECT path FROM files WHERE folder = ?", (folder,)):
            yield os.fsdecode(path) if isinstance(path, bytes) else path

    def apply(self, puts: list[tuple[Any, ...]], deletes: list[str]) -> None:
        self._db.execute("BEGIN")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
                [(_key(put[0]), *put[1:]) for put in puts],
            )
            self._db.executemany("DELETE FROM files WHERE path = ?", [(_key(p),) for p in deletes])
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def forget_other_folders(self, folders: Iterable[str]) -> None:
        """Folders no longer in the policy: their files are no longer tracked."""
        kept = list(folders)
        marks = ",".join("?" * len(kept)) or "''"
        self._db.execute(f"DELETE FROM files WHERE folder NOT IN ({marks})", kept)

    def close(self) -> None:
        self._db.close()


@dataclass
class _Pending:
    paths: dict[str, str] = field(default_factory=dict)  # path -> folder
    rescan: set[str] = field(default_factory=set)  # folders


class FileWatcher:
    def __init__(
        self,
        snapshot_path: Path,
        folders: list[WatchFolder],
        sensitive_words: tuple[str, ...] = (),
        limits: WatchLimits | None = None,
    ) -> None:
        self.folders = {os.path.normpath(folder.path): folder for folder in folders}
        self._innermost_first = sorted(self.folders, key=len, reverse=True)
        self.words = sensitive_words
        self.limits = limits or WatchLimits()
        self.snapshot = Snapshot(snapshot_path)
        self.snapshot.forget_other_folders(self.folders)
        self._lock = threading.Lock()
        self._pending = _Pending(rescan=set(self.folders))  # the first drain rescans all
        self._present: dict[str, bool] = {path: True for path in self.folders}
        self._watches: dict[str, Any] = {}
        self._observer: Any = None
        self._last_rescan = time.monotonic()
        self.overflows = 0
        self.unreadable = 0  # paths skipped for an unexpected error (see _examine)

    # -- watchdog side: mark only ------------------------------------------------------
    def _folder_of(self, path: str) -> str | None:
        # The innermost folder wins: an upload folder inside a web root is an upload folder.
        for folder in self._innermost_first:
            if path == folder or path.startswith(folder.rstrip(os.sep) + os.sep):
                return folder
        return None

    def mark(self, path: str, is_directory: bool = False) -> None:
        """A path changed (called from watchdog's thread; cheap and bounded)."""
        path = os.path.normpath(path)
        folder = self._folder_of(path)
        if folder is None or len(path) > MAX_PATH * 4:
            return
        with self._lock:
            if is_directory:
                # A folder created or moved in: its files may predate the watch on it.
                self._pending.rescan.add(folder)
            elif path in self._pending.paths or len(self._pending.paths) < self.limits.max_pending:
                self._pending.paths[path] = folder
            elif folder not in self._pending.rescan:
                self.overflows += 1
                self._pending.rescan.add(folder)

    def start(self) -> None:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type in {"opened", "closed_no_write"}:
                    return
                for raw in (event.src_path, getattr(event, "dest_path", "")):
                    if raw:
                        text = os.fsdecode(raw) if isinstance(raw, bytes) else str(raw)
                        watcher.mark(text, event.is_directory)

        self._handler = Handler()
        self._observer = Observer()
        self._observer.daemon = True
        for folder in self.folders:
            self._watch(folder)
        self._observer.start()

    def _watch(self, folder: str) -> bool:
        if self._observer is None or folder in self._watches:
            return folder in self._watches
        if not os.path.isdir(folder):
            return False
        try:
            self._watches[folder] = self._observer.schedule(self._handler, folder, recursive=True)
        except OSError as exc:  # gone again, or the inotify watch limit reached
            log.warning("cannot watch %s: %s", folder, exc)
            return False
        return True

    def _unwatch(self, folder: str) -> None:
        watch = self._watches.pop(folder, None)
        if watch is not None and self._observer is not None:
            # The emitter may already have ended with its folder.
            with contextlib.suppress(KeyError, OSError, ValueError):
                self._observer.unschedule(watch)

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        self.snapshot.close()

    # -- the watch job: examine and batch ----------------------------------------------
    def drain(self) -> list[dict[str, Any]]:
        """The events since the last drain, at most ``max_events`` (+ summaries)."""
        events: list[dict[str, Any]] = []
        if time.monotonic() - self._last_rescan >= self.limits.rescan_seconds:
            with self._lock:
                self._pending.rescan.update(self.folders)
        events.extend(self._folder_presence())
        with self._lock:
            pending, self._pending = self._pending, _Pending()
        if pending.rescan:
            self._last_rescan = time.monotonic()
        paths = dict(pending.paths)
        for folder in pending.rescan:
            if self._present.get(folder):
                for path in self._walk(folder):
                    paths[path] = self._folder_of(path) or folder
        events.extend(self._examine(paths))
        return self._bounded(_paired_moves(events))

    def _folder_presence(self) -> list[dict[str, Any]]:
        events = []
        for folder, spec in self.folders.items():
            present = os.path.isdir(folder)
            was = self._present.get(folder, True)
            if not present and was:
                self._unwatch(folder)
                events.append(_event("folder_missing", folder, spec))
                log.warning("watched folder %s is gone", folder)
            elif present and not was:
                self._watch(folder)
                with self._lock:
                    self._pending.rescan.add(folder)
                events.append(_event("folder_back", folder, spec))
                log.info("watched folder %s is back", folder)
            elif present and self._observer is not None and folder not in self._watches:
                self._watch(folder)  # could not be watched at start (absent then)
            self._present[folder] = present
        return events

    def _walk(self, folder: str) -> Iterator[str]:
        count = 0
        yield from list(self.snapshot.paths(folder))  # known files: deletions while stopped
        for root, dirs, names in os.walk(folder, followlinks=False):
            dirs.sort()
            for name in sorted(names):
                count += 1
                if count > self.limits.max_walk_files:
                    log.warning("%s: more than %d files; rescan stopped", folder, count - 1)
                    return
                yield os.path.join(root, name)

    def _examine(self, paths: dict[str, str]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        puts: list[tuple[Any, ...]] = []
        deletes: list[str] = []
        for path, folder in paths.items():
            try:
                self._examine_one(path, folder, events, puts, deletes)
            except Exception as exc:  # one odd file must not blind the watcher to the rest
                self.unreadable += 1
                log.warning("cannot examine %s: %r", readable_text(path), exc)
        self.snapshot.apply(puts, deletes)
        return events

    def _examine_one(
        self,
        path: str,
        folder: str,
        events: list[dict[str, Any]],
        puts: list[tuple[Any, ...]],
        deletes: list[str],
    ) -> None:
        spec = self.folders[folder]
        known = self.snapshot.get(path)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            if known is not None:
                deletes.append(path)
                events.append(_event("deleted", path, spec, known=known))
            return
        except OSError as exc:
            log.debug("cannot stat %s: %s", readable_text(path), exc)
            return
        if not stat.S_ISREG(info.st_mode):
            return  # folders, links, sockets: their files are what counts
        if known is not None and (known.size, known.mtime_ns) == (
            info.st_size,
            info.st_mtime_ns,
        ):
            return
        try:
            sha256, head = _digest(path, HASH_MAX_BYTES)
        except OSError as exc:
            log.debug("cannot read %s: %s", readable_text(path), exc)
            return
        if known is not None and sha256 is not None and known.sha256 == sha256:
            puts.append((path, folder, info.st_size, info.st_mtime_ns, sha256, known.owner))
            return  # touched, not changed
        owner = _owner(info)
        words = self.words if spec.kind == KIND_UPLOAD else ()
        findings = [finding.as_dict() for finding in screen(head, words)]
        action = "created" if known is None else "modified"
        events.append(
            _event(
                action,
                path,
                spec,
                sha256=sha256,
                size=info.st_size,
                owner=owner,
                mtime=info.st_mtime,
                findings=findings,
            )
        )
        puts.append((path, folder, info.st_size, info.st_mtime_ns, sha256, owner))

    def _bounded(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        limit = self.limits.max_events
        if len(events) <= limit:
            return events
        urgent = [event for event in events if event.get("findings")][:limit]
        others = [event for event in events if not event.get("findings")]
        room = max(limit - len(urgent), 0)
        kept, rest = others[:room], others[room:]
        counts: dict[tuple[str, str, str], int] = {}
        for event in rest + [e for e in events if e.get("findings")][limit:]:
            key = (event["folder"], event["folder_kind"], event["action"])
            counts[key] = counts.get(key, 0) + 1
        summaries = [
            {
                "action": "summary",
                "path": folder,
                "folder": folder,
                "folder_kind": kind,
                "summarised_action": action,
                "count": count,
                "observed_at": _now_text(),
                "findings": [],
            }
            for (folder, kind, action), count in sorted(counts.items())
        ]
        return urgent + kept + summaries


def _event(
    action: str,
    path: str,
    spec: WatchFolder,
    *,
    known: _Known | None = None,
    sha256: str | None = None,
    size: int | None = None,
    owner: str | None = None,
    mtime: float | None = None,
    findings: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    if known is not None:
        sha256, size, owner = known.sha256, known.size, known.owner
    return {
        "action": action,
        "path": readable_text(path)[:MAX_PATH],
        "folder": readable_text(os.path.normpath(spec.path))[:MAX_PATH],
        "folder_kind": spec.kind,
        "sha256": sha256,
        "size": size,
        "owner": owner,
        "mtime": _mtime_text(mtime),
        "observed_at": _now_text(),
        "findings": findings or [],
    }


def watch_state_event(action: str, folder: str, kind: str, error: str | None) -> dict[str, Any]:
    """``watch_failed`` or ``watch_recovered`` for one watched folder (agent/runner.py)."""
    event = _event(action, folder, WatchFolder(folder, kind))
    if error is not None:
        event["error"] = error[:FILE_EVENT_ERROR_MAX]
    return event


def _mtime_text(mtime: float | None) -> str | None:
    """The server takes years 2000-2200; a file from a 1980s archive has its mtime left out
    rather than its whole batch refused."""
    if mtime is None or not 946_684_800 <= mtime < 7_258_118_400:
        return None
    return datetime.datetime.fromtimestamp(mtime, datetime.UTC).isoformat(timespec="milliseconds")


def _paired_moves(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A deletion and a creation of the same content in one batch: one ``moved`` event."""
    created = {
        event["sha256"]: event
        for event in events
        if event["action"] == "created" and event.get("sha256") and not event["findings"]
    }
    paired: list[dict[str, Any]] = []
    used: set[int] = set()
    for event in events:
        if event["action"] == "deleted" and event.get("sha256") in created:
            target = created.pop(event["sha256"])
            used.add(id(target))
            paired.append({**target, "action": "moved", "from_path": event["path"]})
        elif id(event) not in used:
            paired.append(event)
    return [event for event in paired if id(event) not in used or event["action"] == "moved"]
