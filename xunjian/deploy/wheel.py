"""A built xunjian wheel given to ``xunjian deploy ssh --wheel``: checked and stamped, so that
a server installed from a wheel (no source checkout) can deploy the agent too.

Checked before any host is touched: the file exists, is named like a xunjian wheel that is
pure Python (``xunjian-VERSION[-BUILD]-py3-none-any.whl``: one wheel serves every kind of
host), is a zip archive, and holds the agent (``agent``, ``checks``, the ``xunjian`` command
and the deployment's host helper) with metadata naming xunjian at the file name's version and
the ``xunjian`` console script, which the unit's ExecStart runs.

The stamp has the form of a checkout's (``bundle.source_stamp``), ``<version>+<12 hex>``; the
digest is of the wheel's members, names and contents, not of the file: the zip's timestamps do
not count, so the same wheel (even rebuilt from the same sources) is up to date on a host, and
a wheel with other content is an upgrade.
"""

from __future__ import annotations

import configparser
import hashlib
import re
import zipfile
import zlib
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

WHEEL_NAME = re.compile(
    r"xunjian-(?P<version>[0-9][0-9A-Za-z.!+_]{0,63})(?:-[0-9][0-9A-Za-z_.]{0,31})?"
    r"-py3[0-9]{0,3}-none-any\.whl"
)
# What a host runs: ExecStart (`xunjian agent run`), the enroll/configure helper, the checks.
REQUIRED_MEMBERS = (
    "xunjian/__init__.py",
    "xunjian/cli.py",
    "xunjian/deploy/host.py",
    "agent/__init__.py",
    "agent/cli.py",
    "checks/__init__.py",
)
# The wheel is the admin's own file, but a damaged or wrong one must not exhaust memory.
MAX_MEMBERS = 20_000
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_METADATA_BYTES = 1024 * 1024
_EXTRA_MARKER = re.compile(r"\bextra\s*==")
_CHUNK = 1024 * 1024


class WheelError(Exception):
    """The file given with --wheel is not a usable xunjian wheel; the message says why."""


@dataclass(frozen=True)
class AgentWheel:
    path: Path
    version: str
    dependencies: tuple[str, ...]  # the agent's own (no extras), as pip requirement strings
    stamp: str


def _fail(path: Path, why: str) -> WheelError:
    return WheelError(f"--wheel {path}: {why}")


def _member_digest(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    digest = hashlib.sha256()
    with archive.open(info) as member:
        while chunk := member.read(_CHUNK):
            digest.update(chunk)
    return digest.digest()


def content_digest(archive: zipfile.ZipFile) -> str:
    """sha256 over the members' names and contents, in name order (timestamps left out)."""
    digest = hashlib.sha256()
    for info in sorted(archive.infolist(), key=lambda item: item.filename):
        if info.is_dir():
            continue
        digest.update(info.filename.encode() + b"\0")
        digest.update(_member_digest(archive, info))
    return digest.hexdigest()


def _small_text(archive: zipfile.ZipFile, name: str, path: Path) -> str:
    info = archive.getinfo(name)
    if info.file_size > MAX_METADATA_BYTES:
        raise _fail(path, f"{name} is larger than {MAX_METADATA_BYTES} bytes")
    try:
        return archive.read(info).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(path, f"{name} is not UTF-8 text") from exc


def stamp_for(version: str, digest: str) -> str:
    """``<version>+<12 hex>``, the version reduced to letters, digits and dots so the stamp stays
    one word and a folder name (a local version's ``+`` becomes a dot)."""
    return f"{re.sub(r'[^0-9A-Za-z.]', '.', version)}+{digest[:12]}"


def _check_members(archive: zipfile.ZipFile, path: Path, dist_info: str) -> None:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise _fail(path, f"more than {MAX_MEMBERS} members; not a xunjian wheel")
    if sum(info.file_size for info in infos) > MAX_UNPACKED_BYTES:
        raise _fail(path, f"unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MiB")
    names = {info.filename for info in infos}
    missing = [name for name in (*REQUIRED_MEMBERS, f"{dist_info}/METADATA") if name not in names]
    if missing:
        raise _fail(
            path,
            f"does not hold the agent (missing {', '.join(missing)}); build it with "
            "`pip wheel --no-deps .` in a checkout of xunjian",
        )


def _metadata(metadata: str, path: Path, name_version: str) -> tuple[str, tuple[str, ...]]:
    """(version, the agent's dependencies: Requires-Dist without the extras')."""
    fields = HeaderParser().parsestr(metadata)
    name = str(fields.get("Name") or "").strip().lower().replace("_", "-")
    version = str(fields.get("Version") or "").strip()
    if name != "xunjian":
        raise _fail(path, f"its metadata names {name or 'no project'!r:.60}, not xunjian")
    # The file name carries the metadata's version with '-' escaped (the wheel format's rule).
    if version.replace("-", "_") != name_version:
        raise _fail(path, f"its metadata says version {version!r:.60}, its name {name_version!r}")
    requirements = [str(item).strip() for item in fields.get_all("Requires-Dist") or []]
    return version, tuple(
        item for item in requirements if not _EXTRA_MARKER.search(item.partition(";")[2])
    )


def _console_script(archive: zipfile.ZipFile, path: Path, dist_info: str) -> None:
    name = f"{dist_info}/entry_points.txt"
    scripts = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    try:
        scripts.read_string(_small_text(archive, name, path))
        target = scripts.get("console_scripts", "xunjian")
    except (KeyError, configparser.Error):
        target = None
    if target is None or target.strip() != "xunjian.cli:main":
        raise _fail(path, f"{name} does not declare the `xunjian` command (xunjian.cli:main)")


def read_wheel(path: Path) -> AgentWheel:
    """The wheel, checked (WheelError says what is wrong), with its stamp and dependencies."""
    match = WHEEL_NAME.fullmatch(path.name)
    if match is None:
        raise _fail(
            path,
            "not a xunjian wheel: the name must be xunjian-VERSION-py3-none-any.whl (a pure "
            "Python wheel, as `pip wheel --no-deps .` in a checkout of xunjian makes it)",
        )
    if not path.is_file():
        raise _fail(path, "no such file" if not path.exists() else "not a regular file")
    dist_info = f"xunjian-{match['version']}.dist-info"
    try:
        with zipfile.ZipFile(path) as archive:
            _check_members(archive, path, dist_info)
            metadata = _small_text(archive, f"{dist_info}/METADATA", path)
            version, dependencies = _metadata(metadata, path, match["version"])
            _console_script(archive, path, dist_info)
            digest = content_digest(archive)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        # RuntimeError: an encrypted member; NotImplementedError: an unknown compression.
        raise _fail(path, f"not a zip archive, or a damaged one ({exc}); a wheel is a zip") from exc
    except OSError as exc:
        raise _fail(path, f"cannot read it: {exc.strerror or exc}") from exc
    return AgentWheel(path, version, dependencies, stamp_for(version, digest))
