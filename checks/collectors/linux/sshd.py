"""The OpenSSH server's global settings, following Include as sshd does."""

from __future__ import annotations

import glob

from checks.errors import NotApplicable
from checks.facts import SshdConfig
from checks.host import HostContext
from checks.messages import said

SSHD_CONFIG = "/etc/ssh/sshd_config"
_MAX_INCLUDE_DEPTH = 16


def _split_directive(line: str) -> tuple[str, str]:
    key, _, value = line.replace("=", " ", 1).partition(" ")
    return key.strip().lower(), value.strip().strip('"')


def _expand_include(host: HostContext, pattern: str) -> list[str]:
    # Relative includes are relative to /etc/ssh, as sshd_config(5) says.
    host_pattern = pattern if pattern.startswith("/") else f"/etc/ssh/{pattern}"
    matches = glob.glob(str(host.path(host_pattern)))
    root_text = str(host.root).rstrip("/")
    return sorted("/" + m[len(root_text) :].lstrip("/") for m in matches)


def _read_into(
    host: HostContext,
    path: str,
    settings: dict[str, str],
    files_read: list[str],
    depth: int,
) -> bool:
    """Read one file into settings; False once a Match block ends the global section."""
    text = host.read_optional(path)
    if text is None:
        return True
    files_read.append(path)
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, value = _split_directive(line)
        if key == "match":
            return False
        if key == "include" and depth < _MAX_INCLUDE_DEPTH:
            for pattern in value.split():
                for included in _expand_include(host, pattern):
                    if not _read_into(host, included, settings, files_read, depth + 1):
                        return False
            continue
        # sshd keeps the first value it reads for most keywords.
        settings.setdefault(key, value)
    return True


def collect_sshd_config(host: HostContext) -> SshdConfig:
    if not host.path(SSHD_CONFIG).exists():
        raise said(NotApplicable, "facts.no_sshd", path=SSHD_CONFIG)
    settings: dict[str, str] = {}
    files_read: list[str] = []
    _read_into(host, SSHD_CONFIG, settings, files_read, depth=0)
    return SshdConfig(path=SSHD_CONFIG, settings=settings, files_read=tuple(files_read))
