"""First-start enrollment from the installer's properties (docs/windows-deploy.md).

The MSI's deferred custom action (running as LocalSystem) calls ``stage``: it writes the
server URL, token and CA pin to ``install-enrollment.json`` in the state folder, whose ACL
admits only SYSTEM and Administrators. The service, on start, enrolls with them and then
deletes the file: the token is forgotten once it bought an identity. An upgrade or repair
run with a token again leaves an existing identity alone (and drops the new token).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.state import AgentState, StateError, atomic_write, read_json_object
from agent.windows.names import STAGED_ENROLLMENT_NAME

log = logging.getLogger("xunjian.agent.windows")

Enroll = Callable[[Path, str, str, str], Any]


@dataclass(frozen=True)
class StagedEnrollment:
    server_url: str
    token: str
    ca_sha256: str

    def __repr__(self) -> str:  # the token never reaches a log line, even by accident
        return f"StagedEnrollment(server_url={self.server_url!r}, token=<hidden>)"


def staged_path(state_dir: Path) -> Path:
    return state_dir / STAGED_ENROLLMENT_NAME


def stage(state_dir: Path, server_url: str, token: str, ca_sha256: str) -> bool:
    """Leave the installer's properties for the first start; False (nothing written) when the
    agent is enrolled already, so an upgrade that repeats the properties keeps its identity."""
    if AgentState(state_dir).has_identity_files():
        staged_path(state_dir).unlink(missing_ok=True)
        return False
    values = {"server_url": server_url.strip(), "token": token.strip(),
              "ca_sha256": ca_sha256.strip()}  # fmt: skip
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise StateError(f"installer properties missing: {', '.join(missing)}")
    state_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(staged_path(state_dir), json.dumps(values).encode("utf-8"))
    return True


def load_staged(state_dir: Path) -> StagedEnrollment | None:
    path = staged_path(state_dir)
    if not path.exists():
        return None
    document = read_json_object(path)
    try:
        return StagedEnrollment(
            str(document["server_url"]), str(document["token"]), str(document["ca_sha256"])
        )
    except KeyError as exc:
        raise StateError(f"{path} lacks {exc}; reinstall with SERVERURL, TOKEN, CASHA256") from exc


def forget(state_dir: Path) -> None:
    staged_path(state_dir).unlink(missing_ok=True)


def enroll_from_staged(state_dir: Path, enroll: Enroll) -> bool:
    """True when the agent is enrolled afterwards. Enrolls with the staged properties if there
    are any and no identity yet, then forgets them; raises what ``enroll`` raises (the staged
    file stays for the next try: a server that was unreachable at boot is the common case)."""
    state = AgentState(state_dir)
    if state.has_identity_files():
        if staged_path(state_dir).exists():
            log.info("already enrolled; dropping the installer's enrollment token unused")
            forget(state_dir)
        return state.is_enrolled()
    staged = load_staged(state_dir)
    if staged is None:
        return False
    log.info("enrolling with %s from the installer's properties", staged.server_url)
    enroll(state_dir, staged.server_url, staged.token, staged.ca_sha256)
    forget(state_dir)
    return True
