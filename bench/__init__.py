"""Benchmarks, run as ``python -m bench.<name>``; each prints its figures (docs/PERFORMANCE.md).

Every benchmark imports this package first, so this is the one place for what all of them
need: the servers they start must not leave the machine's own pointer to "the data folder
the last server used" (xunjian/core/paths.py ``server_pointer``: /var/lib/xunjian/server-data
for root) naming a benchmark's temporary folder. That pointer would send an admin's next
``xunjian server ...`` command to a deleted folder, and it made the deployment test's
"uninstall leaves no /var/lib/xunjian" fail while a benchmark ran beside it. The pointer goes
to a folder of this process instead, as the tests do (tests/conftest.py).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from xunjian.core.paths import POINTER_ENV

if POINTER_ENV not in os.environ:
    os.environ[POINTER_ENV] = str(
        Path(tempfile.mkdtemp(prefix="xunjian-bench-pointer-")) / "server-data"
    )
