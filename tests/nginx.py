"""Debian's nginx for the tests that put it in front of real servers (tests/server/
test_trusted_proxy.py, tests/integration/test_scale_out.py): the shipped samples in deploy/nginx
with this machine's paths and ports, run in the foreground from a folder of the test's own."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "deploy" / "nginx"


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    if found is None:
        pytest.fail("this test puts Debian's nginx in front of the server: apt-get install nginx")
    return found


def sample_with(sample: Path, start: str, replacements: dict[str, str]) -> str:
    """The sample from ``start`` on, each key replaced; fails when the sample lost one (the test
    then no longer tests what is shipped)."""
    text = sample.read_text()
    block = text[text.index(start) :]
    for old, new in replacements.items():
        assert old in block, f"{sample} no longer contains {old!r}"
        block = block.replace(old, new)
    return block


def main_config(work: Path, http_block: str, http_extra: str = "") -> str:
    """A whole nginx.conf around ``http_block`` whose every file is under ``work``."""
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {name}_temp_path {work / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    access = http_extra or f"    access_log {work / 'access.log'};"
    return (
        f"{user}worker_processes 1;\npid {work / 'nginx.pid'};\n"
        f"error_log {work / 'error.log'} info;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n{access}\n{temp}\n{http_block}\n}}\n"
    )


def start_nginx(work: Path, config: str) -> subprocess.Popen[bytes]:
    conf = work / "nginx.conf"
    conf.write_text(config)
    return subprocess.Popen(
        [nginx_binary(), "-p", str(work), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
