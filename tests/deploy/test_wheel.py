"""The wheel given to ``xunjian deploy ssh --wheel``: what is refused and why, before any host is
touched; a stamp that follows the wheel's content; the agent's dependencies from its metadata;
and a server installed from a wheel (no checkout), which is told to pass --wheel."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import zipfile
from importlib import resources
from pathlib import Path

import pytest

from xunjian import __version__
from xunjian.deploy.bundle import BundleBuilder, BundleError
from xunjian.deploy.layout import UNIT_NAME, checkout_root, source_root
from xunjian.deploy.wheel import REQUIRED_MEMBERS, WheelError, read_wheel

NAME = "xunjian-1.2.3-py3-none-any.whl"
METADATA = """Metadata-Version: 2.4
Name: xunjian
Version: 1.2.3
Requires-Dist: cryptography>=42
Requires-Dist: watchdog>=4; sys_platform == "linux"
Provides-Extra: server
Requires-Dist: Flask>=3.0; extra == "server"

# xunjian
"""
ENTRY_POINTS = "[console_scripts]\nxunjian = xunjian.cli:main\n"
STAMP_FORM = re.compile(r"[0-9][0-9A-Za-z.]*\+[0-9a-f]{12}")  # bundle.prune_bundles' form


def fake_wheel(
    folder: Path,
    name: str = NAME,
    *,
    drop: tuple[str, ...] = (),
    change: dict[str, str] | None = None,
    date: tuple[int, int, int, int, int, int] = (2026, 1, 1, 0, 0, 0),
    reverse: bool = False,
) -> Path:
    """A small wheel with the members read_wheel looks for; ``change`` replaces members."""
    parts = name.split("-")
    dist_info = f"xunjian-{parts[1] if len(parts) > 2 else '1.2.3'}.dist-info"
    members = {path: f"# {path}\n" for path in REQUIRED_MEMBERS}
    members |= {f"{dist_info}/METADATA": METADATA, f"{dist_info}/entry_points.txt": ENTRY_POINTS}
    members |= change or {}
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        for member in sorted(members, reverse=reverse):
            if member not in drop:
                archive.writestr(zipfile.ZipInfo(member, date), members[member])
    return path


def test_a_wheel_gives_its_version_the_agent_dependencies_and_a_stamp(tmp_path: Path) -> None:
    wheel = read_wheel(fake_wheel(tmp_path))
    assert wheel.version == "1.2.3"
    # The server's extra is not the agent's.
    assert wheel.dependencies == ("cryptography>=42", 'watchdog>=4; sys_platform == "linux"')
    assert wheel.stamp.startswith("1.2.3+") and STAMP_FORM.fullmatch(wheel.stamp)


def test_the_stamp_follows_the_content_not_the_zip_file(tmp_path: Path) -> None:
    for folder in ("a", "b", "c"):
        (tmp_path / folder).mkdir()
    first = read_wheel(fake_wheel(tmp_path / "a"))
    # Built again from the same sources: other timestamps, other member order, same stamp.
    rebuilt = fake_wheel(tmp_path / "b", date=(2027, 6, 30, 12, 0, 0), reverse=True)
    assert rebuilt.read_bytes() != first.path.read_bytes()
    assert read_wheel(rebuilt).stamp == first.stamp
    changed = fake_wheel(tmp_path / "c", change={"agent/cli.py": "# changed\n"})
    assert read_wheel(changed).stamp != first.stamp


def test_a_local_version_stays_one_word_in_the_stamp(tmp_path: Path) -> None:
    name = "xunjian-1.2.3+lab.7-py3-none-any.whl"
    metadata = METADATA.replace("Version: 1.2.3", "Version: 1.2.3+lab.7")
    wheel = read_wheel(
        fake_wheel(tmp_path, name, change={"xunjian-1.2.3+lab.7.dist-info/METADATA": metadata})
    )
    assert wheel.version == "1.2.3+lab.7"
    assert wheel.stamp.startswith("1.2.3.lab.7+") and STAMP_FORM.fullmatch(wheel.stamp)


DIST = "xunjian-1.2.3.dist-info"


def not_a_zip(folder: Path) -> Path:
    (folder / NAME).write_text("not a zip\n")
    return folder / NAME


def a_folder(folder: Path) -> Path:
    (folder / NAME).mkdir()
    return folder / NAME


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda folder: folder / NAME, "no such file"),
        (a_folder, "not a regular file"),
        (lambda folder: fake_wheel(folder, "xunjian.whl"), "not a xunjian wheel"),
        (lambda folder: fake_wheel(folder, "xunjian-1.2.3.tar.gz"), "not a xunjian wheel"),
        (lambda folder: fake_wheel(folder, "other-1.2.3-py3-none-any.whl"), "not a xunjian wheel"),
        (
            lambda folder: fake_wheel(folder, "xunjian-1.2.3-cp311-cp311-linux_x86_64.whl"),
            "pure Python",
        ),
        (not_a_zip, "not a zip archive"),
        (
            lambda folder: fake_wheel(folder, drop=("agent/__init__.py",)),
            "does not hold the agent (missing agent/__init__.py)",
        ),
        (
            lambda folder: fake_wheel(folder, drop=("xunjian/deploy/host.py",)),
            "missing xunjian/deploy/host.py",
        ),
        (
            lambda folder: fake_wheel(
                folder, change={f"{DIST}/METADATA": METADATA.replace("Name: xunjian", "Name: x")}
            ),
            "its metadata names 'x', not xunjian",
        ),
        (
            lambda folder: fake_wheel(
                folder, change={f"{DIST}/METADATA": METADATA.replace("1.2.3", "1.2.4")}
            ),
            "its metadata says version '1.2.4', its name '1.2.3'",
        ),
        (
            lambda folder: fake_wheel(folder, drop=(f"{DIST}/entry_points.txt",)),
            "does not declare the `xunjian` command",
        ),
        (
            lambda folder: fake_wheel(
                folder, change={f"{DIST}/entry_points.txt": "[console_scripts]\nxunjian = x:y\n"}
            ),
            "does not declare the `xunjian` command",
        ),
    ],
    ids=[
        "missing",
        "a-folder",
        "no-version",
        "an-sdist",
        "another-project",
        "platform-wheel",
        "not-a-zip",
        "no-agent",
        "no-host-helper",
        "metadata-name",
        "metadata-version",
        "no-entry-points",
        "other-entry-point",
    ],
)
def test_what_is_not_a_usable_wheel_is_refused_with_the_reason(
    tmp_path: Path, make: object, expected: str
) -> None:
    assert callable(make)
    path = make(tmp_path)
    with pytest.raises(WheelError) as caught:
        read_wheel(path)
    assert str(caught.value).startswith(f"--wheel {path}: ")
    assert expected in str(caught.value)
    # The builder says the same, before it makes anything.
    with pytest.raises(BundleError, match=re.escape(expected)):
        BundleBuilder(tmp_path / "bundles", wheel=path)
    assert not (tmp_path / "bundles").exists()


def test_the_built_wheel_holds_the_agent_its_unit_and_the_projects_dependencies(
    agent_wheel: Path,
) -> None:
    project = tomllib.loads((source_root() / "pyproject.toml").read_text())["project"]
    wheel = read_wheel(agent_wheel)
    assert wheel.version == project["version"]

    def names(requirements: object) -> set[str]:
        assert isinstance(requirements, list | tuple)
        return {re.split(r"[<>=!~;\[ ]", str(item))[0].lower() for item in requirements}

    assert names(wheel.dependencies) == names(project["dependencies"])
    # The unit is package data: a server installed from this wheel deploys the same unit.
    packaged = resources.files("xunjian.deploy").joinpath(UNIT_NAME).read_bytes()
    with zipfile.ZipFile(agent_wheel) as archive:
        assert archive.read(f"xunjian/deploy/{UNIT_NAME}") == packaged


def test_the_builder_uses_the_given_wheel_and_checks_its_copy(tmp_path: Path) -> None:
    wheel = fake_wheel(tmp_path)
    builder = BundleBuilder(tmp_path / "bundles", wheel=wheel)
    assert builder.root is None and builder.stamp == read_wheel(wheel).stamp
    assert builder.origin == f"the wheel {wheel}"
    builder.cache_dir.mkdir()
    copied = builder._xunjian_wheel()
    assert copied == builder.stamp_dir / NAME and copied.read_bytes() == wheel.read_bytes()
    # Replaced after the stamp was taken: refused, not shipped under the old stamp.
    later = BundleBuilder(tmp_path / "other-bundles", wheel=wheel)
    later.cache_dir.mkdir()
    wheel.unlink()
    fake_wheel(tmp_path, change={"agent/cli.py": "# another agent\n"})
    with pytest.raises(BundleError, match="changed while deploying"):
        later._xunjian_wheel()
    assert not later.stamp_dir.joinpath(NAME).exists()


def test_from_a_checkout_the_wheel_is_built_from_it() -> None:
    builder = BundleBuilder(Path("/nonexistent/bundles"))
    assert checkout_root() == source_root() == builder.root
    assert builder.origin == f"the checkout {source_root()}"


def run_from_wheel_install(site: Path, cwd: Path, *words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xunjian.cli", "deploy", "ssh", *words],
        env={**os.environ, "PYTHONPATH": str(site), "XJ_TEST_NOT_USED": "x"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_installed_from_a_wheel_it_says_to_pass_the_wheel_before_touching_a_host(
    wheel_install: Path, tmp_path: Path
) -> None:
    inventory = tmp_path / "hosts.toml"
    # A host nothing listens for: any attempt to reach it would show as a failure line.
    inventory.write_text(
        '[[host]]\naddress = "127.0.0.1"\nport = 9\nuser = "x"\npassword_env = "XJ_TEST_NOT_USED"\n'
    )
    admin = tmp_path / "admin"
    admin.mkdir()
    data = tmp_path / "data"
    done = run_from_wheel_install(
        wheel_install, admin, "--inventory", str(inventory), "--data", str(data)
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    assert "installed without its source checkout" in done.stderr
    assert f"--wheel xunjian-{__version__}-py3-none-any.whl" in done.stderr
    assert not data.exists()
    bad = tmp_path / f"xunjian-{__version__}-py3-none-any.whl"
    bad.write_text("a text file\n")
    done = run_from_wheel_install(
        wheel_install,
        admin,
        "--inventory",
        str(inventory),
        "--data",
        str(data),
        "--wheel",
        str(bad),
    )
    assert done.returncode == 1 and done.stdout == ""
    assert f"xunjian deploy ssh: --wheel {bad}: not a zip archive" in done.stderr
    assert not data.exists()
