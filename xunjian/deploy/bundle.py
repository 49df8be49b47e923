"""The offline bundle: every wheel a host needs to install the agent without internet access.

Built on the server's host with pip, into a cache in the data folder::

    DATA/deploy/bundles/<stamp>/xunjian-<version>-py3-none-any.whl     built, or the --wheel
    DATA/deploy/bundles/<stamp>/<target>/*.whl + MANIFEST.json         per host platform

The xunjian wheel is built from the source checkout the command runs from, or, with
``--wheel`` (a server installed from a wheel has no checkout), is the wheel given (wheel.py).
``stamp`` is ``<version>+<12 hex digits>``: the digest of the source files that go into the
wheel, or of the given wheel's content, so a changed checkout or another wheel is a new bundle
(and an upgrade for every host) even before the version number moves. ``target`` is the host's
Python and platform (``cp311-x86_64-glibc2.36``): the agent's dependencies include compiled
wheels (cffi), so a bundle fits one kind of host. The dependencies are read from pyproject.toml
(or the wheel's metadata); pip is bundled too, so a host needs only ``python3`` with its
``venv`` module (no ensurepip, no pip, no index).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

from xunjian.deploy.layout import checkout_root
from xunjian.deploy.wheel import WheelError, read_wheel

SOURCE_PACKAGES = ("xunjian", "agent", "checks", "server")
SOURCE_FILES = ("pyproject.toml", "README.md")
MANIFEST = "MANIFEST.json"
PIP_TIMEOUT_SECONDS = 900
MIN_PYTHON = (3, 11)
_MACHINE = re.compile(r"[a-z0-9_]{1,32}")


class BundleError(Exception):
    """The bundle cannot be built; the message has pip's own words."""


@dataclass(frozen=True)
class Target:
    """A host's Python and platform, as its probe reported them."""

    python: tuple[int, int]
    machine: str
    glibc: tuple[int, int]

    @property
    def key(self) -> str:
        python, glibc = self.python, self.glibc
        return f"cp{python[0]}{python[1]}-{self.machine}-glibc{glibc[0]}.{glibc[1]}"

    def platforms(self) -> list[str]:
        """pip's --platform tags the host can install: manylinux up to its glibc."""
        machine = self.machine
        tags = []
        if self.glibc >= (2, 17):
            tags.append(f"manylinux2014_{machine}")
        if machine in ("x86_64", "i686"):
            if self.glibc >= (2, 12):
                tags.append(f"manylinux2010_{machine}")
            if self.glibc >= (2, 5):
                tags.append(f"manylinux1_{machine}")
        tags += [f"manylinux_2_{minor}_{machine}" for minor in range(17, self.glibc[1] + 1)]
        return tags


@dataclass(frozen=True)
class Bundle:
    stamp: str
    target: Target
    directory: Path
    wheels: tuple[Path, ...]

    @property
    def pip_wheel(self) -> Path:
        return next(path for path in self.wheels if path.name.startswith("pip-"))

    @property
    def xunjian_wheel(self) -> Path:
        return next(path for path in self.wheels if path.name.startswith("xunjian-"))


def source_files(root: Path) -> list[Path]:
    """The files that go into the xunjian wheel, in a fixed order (relative to ``root``)."""
    files = [Path(name) for name in SOURCE_FILES if (root / name).is_file()]
    for package in SOURCE_PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.append(path.relative_to(root))
    return files


def project_metadata(root: Path) -> tuple[str, list[str]]:
    """(version, dependencies) from pyproject.toml."""
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
        return str(project["version"]), [str(item) for item in project["dependencies"]]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise BundleError(
            f"cannot read {root / 'pyproject.toml'}: {exc}; the bundle is built from a source "
            "checkout of xunjian"
        ) from exc


def source_stamp(root: Path) -> str:
    version, _ = project_metadata(root)
    digest = hashlib.sha256()
    for relative in source_files(root):
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(hashlib.sha256((root / relative).read_bytes()).digest())
    return f"{version}+{digest.hexdigest()[:12]}"


def _run_pip(arguments: list[str], what: str, hidden: frozenset[str] = frozenset()) -> None:
    # pip needs no password: the variables the inventory names stay out of its environment.
    env = {name: value for name, value in os.environ.items() if name not in hidden}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "--disable-pip-version-check", *arguments],
            env=env,
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BundleError(f"{what}: pip did not finish within {PIP_TIMEOUT_SECONDS}s") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise BundleError(f"{what} failed (pip exit {done.returncode}):\n{tail}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_STAMP = re.compile(r"[0-9][0-9A-Za-z.]*\+[0-9a-f]{12}")  # source_stamp's, wheel.stamp_for's
KEEP_STAMPS = 2  # the bundle being built and the one before it, for a deployment still using it


def prune_bundles(cache_dir: Path, current: str, keep: int = KEEP_STAMPS) -> list[str]:
    """Delete all but the ``keep`` newest bundle stamps (``current`` always stays); each one
    holds megabytes of wheels per target, and every changed checkout makes a new stamp.
    Returns the stamps deleted."""
    stamps = [path for path in cache_dir.iterdir() if path.is_dir() and _STAMP.fullmatch(path.name)]
    stamps.sort(key=lambda path: (path.name == current, path.stat().st_mtime), reverse=True)
    gone = [path.name for path in stamps[keep:] if path.name != current]
    for name in gone:
        shutil.rmtree(cache_dir / name, ignore_errors=True)
    return gone


def no_checkout_message() -> str:
    from xunjian import __version__

    return (
        f"this xunjian ({__version__}) is installed without its source checkout, so there is "
        "no source to build the agent's wheel from: pass the xunjian wheel to install on the "
        f"hosts, e.g. --wheel xunjian-{__version__}-py3-none-any.whl (the one this server was "
        "installed from; docs/deploy.md, 'Deploying from a wheel')"
    )


class BundleBuilder:
    """Builds bundles on demand and caches them; safe to call from several threads.

    The xunjian wheel is ``wheel`` when given (checked here, before any host is touched), or
    is built from the checkout ``root`` (by default the one this command runs from)."""

    def __init__(
        self,
        cache_dir: Path,
        root: Path | None = None,
        hidden_env: frozenset[str] = frozenset(),
        wheel: Path | None = None,
    ) -> None:
        self.hidden_env = hidden_env
        self.cache_dir = cache_dir
        self.root: Path | None = None
        self.given_wheel: Path | None = None
        if wheel is not None:
            try:
                agent_wheel = read_wheel(wheel)
            except WheelError as exc:
                raise BundleError(str(exc)) from None
            self.given_wheel = agent_wheel.path
            self.version, self.stamp = agent_wheel.version, agent_wheel.stamp
            self.dependencies = list(agent_wheel.dependencies)
            self.origin = f"the wheel {agent_wheel.path}"
        else:
            self.root = root or checkout_root()
            if self.root is None:
                raise BundleError(no_checkout_message())
            self.version, self.dependencies = project_metadata(self.root)
            self.stamp = source_stamp(self.root)
            self.origin = f"the checkout {self.root}"
        self._lock = threading.Lock()

    @property
    def stamp_dir(self) -> Path:
        return self.cache_dir / self.stamp

    def _xunjian_wheel(self) -> Path:
        found = sorted(self.stamp_dir.glob("xunjian-*.whl"))
        if found:
            return found[0]
        self.stamp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.given_wheel is not None:
            return self._copy_given_wheel(self.given_wheel)
        assert self.root is not None
        with tempfile.TemporaryDirectory(dir=self.cache_dir) as scratch:
            # A copy of exactly the stamped files: pip's build leaves build/ and *.egg-info
            # behind, and the source tree is not ours to litter.
            source = Path(scratch) / "source"
            for relative in source_files(self.root):
                (source / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(self.root / relative, source / relative)
            wheels = Path(scratch) / "wheels"
            _run_pip(
                ["wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels), str(source)],
                "building the xunjian wheel",
                self.hidden_env,
            )
            built = sorted(wheels.glob("xunjian-*.whl"))
            if len(built) != 1:
                raise BundleError(f"pip wheel made {[path.name for path in built]}, not one wheel")
            final = self.stamp_dir / built[0].name
            shutil.move(built[0], final)
        return final

    def _copy_given_wheel(self, given: Path) -> Path:
        """The copy is checked again: the file may have been replaced since the stamp was
        taken, and the bundle must hold what its stamp says."""
        with tempfile.TemporaryDirectory(dir=self.cache_dir) as scratch:
            copy = Path(scratch) / given.name
            try:
                shutil.copyfile(given, copy)
                stamp = read_wheel(copy).stamp
            except (OSError, WheelError) as exc:
                raise BundleError(f"copying {given}: {exc}") from None
            if stamp != self.stamp:
                raise BundleError(f"{given} changed while deploying ({self.stamp} -> {stamp})")
            final = self.stamp_dir / given.name
            os.replace(copy, final)
        return final

    def _load(self, target: Target, directory: Path) -> Bundle | None:
        try:
            manifest = json.loads((directory / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        wheels = tuple(directory / name for name in sorted(manifest["files"]))
        return Bundle(self.stamp, target, directory, wheels)

    def bundle_for(self, target: Target) -> Bundle:
        if target.python < MIN_PYTHON:
            raise BundleError(
                f"the host's python3 is {target.python[0]}.{target.python[1]}; the agent needs "
                f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer"
            )
        if not _MACHINE.fullmatch(target.machine):
            raise BundleError(f"unusable machine name {target.machine!r:.40}")
        with self._lock:
            self.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            directory = self.stamp_dir / target.key
            cached = self._load(target, directory)
            if cached is not None:
                return cached
            xunjian_wheel = self._xunjian_wheel()
            scratch = Path(tempfile.mkdtemp(dir=self.stamp_dir, prefix=f".{target.key}."))
            try:
                arguments = [
                    "download",
                    "--quiet",
                    "--only-binary=:all:",
                    "--dest",
                    str(scratch),
                    "--python-version",
                    f"{target.python[0]}.{target.python[1]}",
                    "--implementation",
                    "cp",
                ]
                for platform in target.platforms():
                    arguments += ["--platform", platform]
                _run_pip(
                    [*arguments, *self.dependencies, "pip"],
                    f"downloading the agent's dependencies for {target.key}",
                    self.hidden_env,
                )
                shutil.copy2(xunjian_wheel, scratch / xunjian_wheel.name)
                files = {path.name: _sha256(path) for path in sorted(scratch.glob("*.whl"))}
                (scratch / MANIFEST).write_text(
                    json.dumps({"stamp": self.stamp, "target": target.key, "files": files})
                )
                if directory.exists():
                    shutil.rmtree(directory)
                os.replace(scratch, directory)
            except BaseException:
                shutil.rmtree(scratch, ignore_errors=True)
                raise
            loaded = self._load(target, directory)
            assert loaded is not None
            prune_bundles(self.cache_dir, self.stamp)
            return loaded
