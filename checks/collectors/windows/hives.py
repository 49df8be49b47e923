"""Registry hives read offline, from a file: the one way Windows collectors see the registry.

A mounted Windows volume (``xunjian scan --root DIR``), a disk image, or the copies the live
agent saves of the locked SAM and SECURITY hives are all just hive files; this module opens
them with regipy (MIT, a maintained pure-Python parser) and gives the collectors a small,
typed view: keys by path, values by name with their full data (regipy truncates long values
unless told not to), class names (where the boot key lives), last-write times.

Memory: regipy reads a whole hive into a BytesIO; a real SOFTWARE hive can be 100 MB. Here the
file is memory-mapped instead, so only the pages a lookup touches are read (bench/windows_hives.py
measures the peak). A hive whose header says it was not cleanly written (a "dirty" hive, as on
an image of a running PC) is replayed from its .LOG1/.LOG2 transaction logs into a private
temporary copy first. A file that is not a hive, or a damaged part of one, raises HiveError
naming the file (and the key).
"""

from __future__ import annotations

import datetime
import logging
import mmap
import shutil
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regipy.exceptions import RegipyException
from regipy.registry import NKRecord, RegistryHive
from regipy.structs import REGF_HEADER
from regipy.utils import boomerang_stream

# regipy logs every value it cannot decode at ERROR; a damaged value is our HiveError to give.
logging.getLogger("regipy").setLevel(logging.CRITICAL)

_FILETIME_EPOCH = datetime.datetime(1601, 1, 1, tzinfo=datetime.UTC)
_HEADER_SEQUENCES = struct.Struct("<4sII")  # signature, primary and secondary sequence numbers
_INLINE = 0x80000000  # a value's data size with this bit set: the data is inline
_DATA_BASE = 0x1004  # regipy seeks to 4096 (the header) + 4 (a cell's size) + offset


class HiveError(Exception):
    """A hive that cannot be read: missing, not a registry hive, or damaged."""


def filetime(value: int) -> datetime.datetime | None:
    """A Windows FILETIME (100 ns ticks since 1601) as UTC; 0 and 'never' are None."""
    if value <= 0 or value >= 0x7FFFFFFFFFFFFFFF:
        return None
    try:
        return _FILETIME_EPOCH + datetime.timedelta(microseconds=value // 10)
    except OverflowError:
        return None


class _MappedStream:
    """A read-only file-like view of a memory map that, like the BytesIO regipy expects,
    lets a seek go past the end (a read there is empty; mmap.seek would raise)."""

    def __init__(self, mapped: mmap.mmap) -> None:
        self._mapped = mapped
        self._position = 0

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._position, 2: len(self._mapped)}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        if size is not None and size >= _INLINE:
            # A value of at most 4 bytes lives in its record's data-offset field, marked by the
            # size's top bit; regipy still seeks to "the data" and reads that many bytes, which
            # would copy the rest of the file (15 MB for each DWORD of a SYSTEM hive, 70 % of a
            # scan's time as measured). The offset it sought to is the inline data itself.
            inline = struct.pack("<I", (self._position - _DATA_BASE) & 0xFFFFFFFF)
            return inline[: size - _INLINE]
        end = len(self._mapped) if size is None or size < 0 else self._position + size
        data = self._mapped[self._position : end]
        self._position += len(data)
        return data

    def close(self) -> None:
        self._mapped.close()


class _MappedHive(RegistryHive):
    """regipy's RegistryHive over a memory map instead of a copy of the whole file."""

    def __init__(self, path: Path) -> None:
        self.partial_hive_path = None
        self.hive_type = None
        with path.open("rb") as handle:
            self._stream = _MappedStream(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
        with boomerang_stream(self._stream) as stream:
            self.header = REGF_HEADER.parse_stream(stream)
            root_hbin = self.get_hbin_at_offset()
            self.root = NKRecord(next(root_hbin.iter_cells(stream)), stream)
        self.name = self.header.file_name

    def close(self) -> None:
        self._stream.close()


@dataclass(frozen=True)
class Key:
    """One registry key. A damaged part of the hive raises HiveError naming the key."""

    record: NKRecord
    hive: str  # the hive file, for errors
    path: str  # backslash path from the hive's root
    # Each key's subkeys by case-folded name, parsed once per open hive: a lookup by name
    # otherwise parses every sibling record (Services has about 700), measured at 0.6 s per
    # six lookups on a real SYSTEM hive.
    index: dict[str, dict[str, Key]] = field(repr=False, compare=False, default_factory=dict)

    def _damaged(self, error: Exception) -> HiveError:
        return HiveError(
            f"{self.hive}: damaged registry hive at {self.path or 'its root'} ({error})"
        )

    @property
    def name(self) -> str:
        return str(self.record.name)

    @property
    def class_name(self) -> str:
        """The key's class name ('' when it has none): hidden from regedit, read by the boot key."""
        if not self.record.header.class_name_size:
            return ""
        try:
            return str(self.record.get_class_name())
        except Exception as error:  # regipy/construct/mmap raise many kinds on damage
            raise self._damaged(error) from None

    @property
    def last_written(self) -> datetime.datetime | None:
        return filetime(int(self.record.header.last_modified))

    def _children(self) -> dict[str, Key]:
        cached = self.index.get(self.path)
        if cached is not None:
            return cached
        children: dict[str, Key] = {}
        if self.record.header.subkey_count:
            try:
                records = list(self.record.iter_subkeys())
            except Exception as error:  # regipy/construct/mmap raise many kinds on damage
                raise self._damaged(error) from None
            for record in records:
                path = f"{self.path}\\{record.name}".lstrip("\\")
                children[str(record.name).casefold()] = Key(record, self.hive, path, self.index)
        self.index[self.path] = children
        return children

    def subkeys(self) -> Iterator[Key]:
        yield from self._children().values()

    def subkey(self, name: str) -> Key | None:
        """A direct subkey by name, compared case-insensitively as Windows does."""
        return self._children().get(name.casefold())

    def values(self) -> dict[str, Any]:
        """Every value by name ('' is the default value), with its full data."""
        if not self.record.header.values_count:
            return {}
        try:
            return {
                str(value.name): value.value
                for value in self.record.iter_values(as_json=False, trim_values=False)
            }
        except Exception as error:  # regipy/construct/mmap raise many kinds on damage
            raise self._damaged(error) from None

    def value(self, name: str, default: Any = None) -> Any:
        wanted = name.casefold()
        for value_name, data in self.values().items():
            if value_name.casefold() == wanted:
                return data
        return default


class Hive:
    """An open hive file. Use as a context manager, or call close()."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._workdir: Path | None = None
        self._index: dict[str, dict[str, Key]] = {}
        if not path.is_file():
            raise HiveError(f"{path}: no such hive file")
        readable = self._replayed_if_dirty(path)
        try:
            self._hive = _MappedHive(readable)
        except (RegipyException, ValueError, OSError, StopIteration, EOFError) as error:
            self._cleanup()
            raise HiveError(f"{path}: not a readable registry hive ({error})") from None
        except Exception as error:  # construct raises its own family for damaged structures
            self._cleanup()
            raise HiveError(f"{path}: damaged registry hive ({type(error).__name__})") from None

    def _replayed_if_dirty(self, path: Path) -> Path:
        with path.open("rb") as handle:
            head = handle.read(_HEADER_SEQUENCES.size)
        if len(head) < _HEADER_SEQUENCES.size or head[:4] != b"regf":
            raise HiveError(f"{path}: not a registry hive (no regf signature)")
        _, primary, secondary = _HEADER_SEQUENCES.unpack(head)
        if primary == secondary:
            return path
        logs = [path.with_name(path.name + suffix) for suffix in (".LOG1", ".LOG2")]
        present = [log for log in logs if log.is_file()]
        if not present:
            # A dirty hive without its logs is still mostly readable; recent changes may be
            # missing, which the collectors cannot know. Read it as it is.
            return path
        from regipy.recovery import apply_transaction_logs

        self._workdir = Path(tempfile.mkdtemp(prefix="xunjian-hive-"))
        restored = self._workdir / path.name
        try:
            apply_transaction_logs(
                str(path),
                str(present[0]),
                secondary_log_path=str(present[1]) if len(present) > 1 else None,
                restored_hive_path=str(restored),
            )
        except Exception as error:  # regipy's recovery raises many kinds for a bad log
            self._cleanup()
            raise HiveError(
                f"{path}: its transaction logs could not be applied ({error})"
            ) from None
        return restored

    def _cleanup(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    @property
    def replayed(self) -> bool:
        """True when transaction logs were applied to read this hive."""
        return self._workdir is not None

    @property
    def root(self) -> Key:
        return Key(self._hive.root, str(self.path), "", self._index)

    def key(self, path: str) -> Key | None:
        """A key by backslash path from the hive's root (``Microsoft\\Windows NT\\...``)."""
        current: Key | None = self.root
        for part in (piece for piece in path.split("\\") if piece):
            if current is None:
                return None
            current = current.subkey(part)
        return current

    def close(self) -> None:
        self._hive.close()
        self._cleanup()

    def __enter__(self) -> Hive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
