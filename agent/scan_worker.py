"""Child process of the service: one scan, then exit (see ``agent.scanning``).

Reads ``{"policy_checks": {...} | null, "root": "/path" | null, "cache": "/path" | null}`` on
stdin and writes ``{"results": [...], "inventory": {...} | null}`` on stdout. Anything else goes
to stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from agent.scanning import in_process_scanner

MAX_REQUEST = 16 * 1024 * 1024


def main() -> int:
    request = json.loads(sys.stdin.buffer.read(MAX_REQUEST))
    root = Path(request["root"]) if request.get("root") else None
    cache = Path(request["cache"]) if request.get("cache") else None
    results, inventory = in_process_scanner(root, cache)(request.get("policy_checks"))
    json.dump({"results": results, "inventory": inventory}, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
