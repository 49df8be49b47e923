"""Child process of the service: one evidence snapshot, then exit (see ``agent.evidence``).

Reads ``{"state": "/path", "reason": "...", "command_id": "..." | null, "watch_folders": [...],
"kernel_root": "/"}`` on stdin, writes the archive into the state folder and
``{"id", "path", "size", "sha256", "manifest", "errors"}`` on stdout. Anything else goes to
stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from agent.evidence import write_snapshot
from agent.state import AgentState

MAX_REQUEST = 1024 * 1024


def main() -> int:
    request = json.loads(sys.stdin.buffer.read(MAX_REQUEST))
    state = AgentState(Path(request["state"]))
    snapshot = write_snapshot(
        state,
        state.load_config(),
        reason=str(request.get("reason") or ""),
        command_id=request.get("command_id"),
        watch_folders=[str(folder) for folder in request.get("watch_folders") or []],
        kernel_root=Path(request.get("kernel_root") or "/"),
    )
    json.dump(
        {
            "id": snapshot.id,
            "path": str(snapshot.path),
            "size": snapshot.size,
            "sha256": snapshot.sha256,
            "manifest": snapshot.manifest,
            "errors": snapshot.errors,
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
