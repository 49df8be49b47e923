"""Registry hives with planted contents, built at test time from ``.reg`` text with hivex.

Starts from ``minimal.hive`` (an empty valid hive from hivex's own test images, in
../shared/windows-hives) and merges ``.reg`` text into it with the real ``hivexregedit``
(Debian ``libwin-hivex-perl``). hivex cannot write a key's class name, where Windows keeps the
boot key (``Control\\Lsa\\{JD,Skew1,GBG,Data}``): for those, the class name's UTF-16 text is
first stored as a value of that key, and the key record is then pointed at that value's data
cell (class offset at nk+0x30, length at nk+0x4A), the cell offsets being asked from hivex's
Python binding (Debian ``python3-hivex``, run by Debian's own python3).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

HIVES = Path(
    os.environ.get(
        "XUNJIAN_WINDOWS_HIVES",
        Path(__file__).resolve().parents[3] / "shared" / "windows-hives",
    )
)
DEBIAN_PYTHON = "/usr/bin/python3"
# The value that carries a boot-key part's class name, named as on a real PC.
CLASS_HOLDERS = {"JD": "Lookup", "Skew1": "SkewMatrix", "GBG": "GrafBlumGroup", "Data": "Pattern"}
_HBIN_START = 0x1000

_OFFSETS = r"""
import hivex, json, sys
request = json.loads(sys.argv[2])
h = hivex.Hivex(sys.argv[1])
answer = {}
for path, holder in request.items():
    node = h.root()
    for part in [p for p in path.split("\\") if p]:
        node = h.node_get_child(node, part)
    value = h.node_get_value(node, holder)
    length, offset = h.value_data_cell_offset(value)
    answer[path] = [node, offset, length]
print(json.dumps(answer))
"""


def shared_hive(name: str) -> Path:
    path = HIVES / name
    if not path.exists():
        raise AssertionError(
            f"{path} is missing: the real Windows hives live in ../shared/windows-hives beside "
            "the project (or set XUNJIAN_WINDOWS_HIVES)"
        )
    return path


def _require(program: str, package: str) -> str:
    found = shutil.which(program) or (program if Path(program).exists() else None)
    if not found:
        raise AssertionError(f"building test hives needs {program}: apt-get install {package}")
    return found


_STRING_VALUE = re.compile(r'^(?P<name>"(?:[^"\\]|\\.)*"|@)="(?P<text>(?:[^"\\]|\\.)*)"$')


def _utf16_strings(reg_body: str) -> str:
    """hivexregedit reads .reg text as bytes: a string value with non-ASCII characters
    (迅雷, 管理员) is written as hex(1), UTF-16LE as regedit itself exports it."""
    lines = []
    for line in reg_body.splitlines():
        match = _STRING_VALUE.match(line)
        if match and not match.group("text").isascii():
            text = match.group("text").replace('\\"', '"').replace("\\\\", "\\")
            data = ",".join(f"{byte:02x}" for byte in (text + "\0").encode("utf-16-le"))
            line = f"{match.group('name')}=hex(1):{data}"
        lines.append(line)
    return "\n".join(lines)


def _with_parents(reg_body: str, prefix: str) -> str:
    """hivexregedit creates a key only under an existing parent: list every parent first."""
    sections: list[str] = []
    seen: set[str] = set()
    for line in reg_body.splitlines():
        if line.startswith("[") and line.endswith("]") and not line.startswith("[-"):
            key = line[1:-1]
            relative = key[len(prefix) :].strip("\\")
            parts = relative.split("\\")
            for depth in range(1, len(parts) + 1):
                path = prefix + "\\" + "\\".join(parts[:depth])
                if path.casefold() not in seen:
                    seen.add(path.casefold())
                    sections.append(path)
    parents = "".join(f"[{path}]\n\n" for path in sections)
    return "Windows Registry Editor Version 5.00\n\n" + parents + _utf16_strings(reg_body) + "\n"


def build_hive(
    out: Path,
    reg_body: str,
    *,
    prefix: str,
    class_names: dict[str, str] | None = None,
) -> Path:
    """A hive at ``out`` holding ``reg_body`` (.reg sections under ``prefix``, e.g.
    ``HKEY_LOCAL_MACHINE\\SYSTEM``), with the given key class names (path relative to the
    hive's root -> class name)."""
    regedit = _require("hivexregedit", "libwin-hivex-perl")
    shutil.copyfile(shared_hive("minimal.hive"), out)
    out.chmod(0o600)
    holders: dict[str, str] = {}
    extra = ""
    for path, class_name in (class_names or {}).items():
        holder = CLASS_HOLDERS.get(path.rsplit("\\", 1)[-1], "ClassName")
        holders[path] = holder
        data = ",".join(f"{byte:02x}" for byte in class_name.encode("utf-16-le"))
        extra += f'\n[{prefix}\\{path}]\n"{holder}"=hex:{data}\n'
    reg_file = out.with_suffix(".reg")
    reg_file.write_text(_with_parents(reg_body + extra, prefix), encoding="utf-8")
    done = subprocess.run(
        [regedit, "--merge", "--prefix", prefix, str(out), str(reg_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"hivexregedit --merge failed: {done.stderr}")
    if holders:
        _write_class_names(out, class_names or {}, holders)
    return out


def _write_class_names(hive: Path, class_names: dict[str, str], holders: dict[str, str]) -> None:
    python = _require(DEBIAN_PYTHON, "python3-hivex")
    done = subprocess.run(
        [python, "-c", _OFFSETS, str(hive), json.dumps(holders)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"reading cell offsets with python3-hivex failed (apt-get install python3-hivex): "
            f"{done.stderr}"
        )
    offsets = json.loads(done.stdout)
    data = bytearray(hive.read_bytes())
    for path, (node, cell, _length) in offsets.items():
        nk = node + 4  # hivex's handles are file offsets of cells; "nk" follows the size field
        if data[nk : nk + 2] != b"nk":
            raise AssertionError(f"{path}: no key record at hivex's node offset {node:#x}")
        # A key record points at a cell by its offset from the first hive bin.
        struct.pack_into("<I", data, nk + 0x30, cell - _HBIN_START)
        struct.pack_into("<H", data, nk + 0x4A, len(class_names[path].encode("utf-16-le")))
    hive.write_bytes(bytes(data))
