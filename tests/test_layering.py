"""The agent stays light (DESIGN.md): importing every module of the agent, the checks and the
shared ``xunjian`` package pulls in none of the server's dependencies."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SERVER_ONLY = ("flask", "sqlalchemy", "alembic", "argon2", "cheroot", "psycopg", "jinja2")

PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    imported = []
    for package_name in ("xunjian", "checks", "agent"):
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            if info.name.endswith(".__main__"):
                continue
            importlib.import_module(info.name)
            imported.append(info.name)
    print(json.dumps({"imported": imported, "modules": sorted(sys.modules)}))
    """
)


def test_agent_side_imports_no_server_dependency() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    import json

    report = json.loads(done.stdout)
    assert any(name.startswith("agent.") for name in report["imported"]), report["imported"]
    heavy = [module for module in report["modules"] if module.split(".")[0] in SERVER_ONLY]
    assert heavy == [], f"the agent side imported server dependencies: {heavy}"
