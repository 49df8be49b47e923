"""Layers point one way (docs/architecture.md, "Layers"; DESIGN.md, "Seams that keep it
changeable").

Two tests guard it. The agent stays light: importing every module of the agent, the checks and
the shared ``xunjian`` core pulls in none of the server's dependencies (a real import in a
child process). And no module imports a layer above its own: the import graph of ``xunjian``,
``checks``, ``agent`` and ``server`` is read with ``ast`` (imports inside functions and under
``TYPE_CHECKING`` count too; nothing is imported: about a second for ~250 modules, once per
session) and every
edge is checked against ``LAYERS``, then every edge between two features against
``FEATURE_USES``. Imports made from strings at run time (``importlib``, "module:function") are
invisible to it.
"""

from __future__ import annotations

import ast
import fnmatch
import graphlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("xunjian", "checks", "agent", "server")

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
    report = json.loads(done.stdout)
    assert any(name.startswith("agent.") for name in report["imported"]), report["imported"]
    heavy = [module for module in report["modules"] if module.split(".")[0] in SERVER_ONLY]
    assert heavy == [], f"the agent side imported server dependencies: {heavy}"


# ---------------------------------------------------------------------------------------------
# The declared layers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    name: str
    # Module patterns (fnmatch): a pattern covers the module it names and everything under it,
    # except one written "=name", which covers that module alone (a package's __init__). A
    # module belongs to the layer of its longest matching pattern.
    modules: tuple[str, ...]
    # The layers this one may import, besides itself.
    may_import: tuple[str, ...]


# A feature: the packages that make it (fnmatch patterns, as in Layer.modules).
FEATURES: dict[str, tuple[str, ...]] = {
    "notify": ("server.notify",),
    # server/commands.py is the frame every feature's command line shares (the --data option,
    # a store session) and the command's entry in the operation log; oplog's own cli uses it.
    "oplog": ("server.oplog", "server.commands"),
    "settings": ("server.settings",),
    "alerts": ("server.alerts",),
    "policy_settings": ("server.policy_settings",),
    "files": ("server.files",),
    "reports": ("server.reports",),
    "devices": ("server.devices",),
    # Evidence snapshots: their intake (behind the agent API), store, API, pages, commands.
    "evidence": ("server.evidence",),
    "monitors": ("server.monitors",),
    "sites": ("server.sites",),
    "fleet": ("server.fleet",),
    "incidents": ("server.incidents",),
    # Host isolation (POLICY.md I1): requests, the agents' reports, the command key.
    "isolation": ("server.isolation",),
    "jobs": ("server.jobs",),
    # Report intake (agents' reports, and devices' checks stored as reports).
    "intake": ("server.intake",),
    # The agent API: enrollment, reports, heartbeats, monitor outcomes, in front of intake.
    "agent_api": ("server.agent_api",),
}

# Which features a feature may import. A feature is a vertical slice (models, store, api,
# views, cli, jobs); it uses another only for what that one owns: the operation log records
# every feature's actions, alerts are opened by intake, files, monitors and devices, notify
# sends them. The graph must stay acyclic (a test says so): a new edge is a design decision,
# made here where a reviewer sees it.
FEATURE_USES: dict[str, tuple[str, ...]] = {
    "notify": (),
    "oplog": (),
    "settings": ("oplog",),
    "alerts": ("notify", "oplog"),  # a bulk change records one entry per alert
    "policy_settings": ("alerts", "notify", "oplog"),
    "files": ("alerts", "oplog"),
    "reports": ("oplog", "sites"),
    "devices": ("alerts", "intake", "oplog"),
    "monitors": ("alerts", "devices", "notify", "oplog", "policy_settings"),
    # Isolation requests and reports go on the timeline of the host's open incidents.
    "isolation": ("incidents", "oplog"),
    "sites": ("alerts", "monitors", "oplog"),
    "fleet": ("alerts", "devices", "oplog"),
    # Incidents tie alerts together and escalate through the alert channels in force.
    "incidents": ("alerts", "notify", "oplog", "policy_settings"),
    # The scheduled purges: the operation log's, the kept reports', the evidence archives',
    # the file events' (with the results history, under results_retention_days).
    "jobs": ("evidence", "files", "oplog", "reports", "settings"),
    "intake": ("alerts", "files"),
    "agent_api": ("intake", "alerts", "evidence", "isolation", "monitors"),
    # Evidence stored goes on the timeline of the host's open incidents.
    "evidence": ("incidents", "oplog"),
}

_SERVER_TOOLS = ("core", "checks", "store")

# Bottom to top. The agent side (core, checks, agent) and the server side share only the core
# and the check library; nothing but the top imports the command line, deploy or demo.
LAYERS: tuple[Layer, ...] = (
    # The shared core: the wire, the contract, typed bodies, paths, the probe. Standard library,
    # cryptography and msgspec only (test_the_core_needs_only_the_standard_library_...).
    Layer("core", ("=xunjian", "xunjian.core"), ()),
    Layer("checks", ("checks",), ("core",)),
    Layer("agent", ("agent",), ("core", "checks")),
    # The store: the schema's Base, the store's tables, engines, migrations runner, queries.
    # security.py (password hashes, token digests) imports nothing of the server; the store's
    # accounts and tokens are made with it.
    Layer("store", ("=server", "server.store", "server.security"), ("core",)),
    # What every feature builds on: configuration, the app state, the agent policy, the wire
    # schema, the REST API's and the console's frames (token and login checks, paging, nav).
    Layer(
        "shared",
        (
            "server.config",
            "server.peer",
            "server.state",
            "server.pki",
            "server.sealing",
            "server.apidoc",
            "server.rest",
            # The registry of background threads that features add to at install(app).
            "server.threads",
            # Bounded per-source counting of unauthenticated traffic (oplog, agent API).
            "server.throttle",
            "server.policy",
            "server.api",
            "server.console",
        ),
        _SERVER_TOOLS,
    ),
    Layer(
        "features",
        tuple(pattern for patterns in FEATURES.values() for pattern in patterns),
        (*_SERVER_TOOLS, "shared"),
    ),
    # What puts it all together: the app factory, the server and every command line, the
    # generated API document, the module gathering every table for Alembic, deploy and demo.
    Layer(
        "top",
        (
            "server.app",
            # The app factory's URL rules (builders shared between apps of one process).
            "server.url_rules",
            "server.cli",
            "server.serve",
            "server.socket_files",
            "server.wsgi",
            "server.openapi",
            "server.migrations",
            "xunjian.cli",
            "xunjian.cli_*",
            "xunjian.deploy",
            "xunjian.msi",
            "xunjian.demo",
        ),
        ("core", "checks", "agent", "store", "shared", "features"),
    ),
)

# Known violations, each removed by the helper named, so the lead can empty this list after
# merging issue 10's branches. Anything else that breaks a rule fails the suite. An entry is
# "importer -> imported" (module names, exactly as reported).
KNOWN_VIOLATIONS: dict[str, str] = {
    # follow-up (lead): config.json's sections are parsed by feature modules; config, which
    # every feature imports, should not import features. A way out: the section types move
    # down into server/config (or each feature parses its own section at install).
    "server.config -> server.alerts.channels": "follow-up",
    "server.config -> server.monitors.settings": "follow-up",
    "server.config -> server.oplog.settings": "follow-up",
    # follow-up (lead): the agent policy document embeds the file watcher's section.
    "server.policy -> server.files.policy": "follow-up",
    # follow-up (lead): the console frame reads the idle timeout from the runtime settings;
    # those overrides of config.json (settings/runtime.py, its table) belong in the shared
    # layer beside config.
    "server.console.auth -> server.settings.runtime": "follow-up",
    # follow-up (lead): two feature cycles. The channels in force (policy_settings/alerting.py)
    # are what alerts deliver to: they belong to alerts, the console page to policy_settings.
    # The oplog purge command reads the retention override from the runtime settings (above).
    "server.alerts.delivery -> server.policy_settings.alerting": "follow-up",
    "server.oplog.cli -> server.settings.runtime": "follow-up",
}


# ---------------------------------------------------------------------------------------------
# The checker
# ---------------------------------------------------------------------------------------------


def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every module of ``packages`` under ``root``, by dotted name."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imported_names(source: str, module: str, is_package: bool) -> Iterator[str]:
    """The dotted names a module's source imports (anywhere: in functions too), relative
    imports made absolute. ``from a import b`` yields ``a.b`` (a module or a name in ``a``)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            yield from (f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
            yield base


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (each name cut down to the longest module)."""
    files = module_files(root, packages)

    def known(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets = {
            target
            for name in imported_names(path.read_text(), module, path.name == "__init__.py")
            if (target := known(name)) is not None
        }
        # "from a.b import c" names both a.b and a.b.c; keep the most specific.
        graph[module] = {
            target
            for target in targets - {module}
            if not any(other.startswith(target + ".") for other in targets)
        }
    return graph


def _matches(module: str, pattern: str) -> bool:
    if pattern.startswith("="):
        return module == pattern[1:]
    return fnmatch.fnmatchcase(module, pattern) or fnmatch.fnmatchcase(module, pattern + ".*")


def owner(module: str, groups: Mapping[str, Iterable[str]]) -> str | None:
    """The group whose longest pattern matches ``module``."""
    best: tuple[int, str] | None = None
    for name, patterns in groups.items():
        for pattern in patterns:
            if _matches(module, pattern) and (best is None or len(pattern) > best[0]):
                best = (len(pattern), name)
    return best[1] if best else None


def violations(
    graph: Mapping[str, Iterable[str]],
    layers: Iterable[Layer] = LAYERS,
    features: Mapping[str, Iterable[str]] = FEATURES,
    feature_uses: Mapping[str, Iterable[str]] = FEATURE_USES,
) -> list[str]:
    """Every edge that breaks a rule, as "importer -> imported (why)", sorted."""
    by_name = {layer.name: layer for layer in layers}
    layer_of = {name: layer.modules for name, layer in by_name.items()}
    found: list[str] = []
    for module, targets in graph.items():
        home = owner(module, layer_of)
        if home is None:
            found.append(f"{module} (in no layer: add it to LAYERS in tests/test_layering.py)")
            continue
        for target in sorted(targets):
            there = owner(target, layer_of)
            if there is None or there == home:
                pass
            elif there not in by_name[home].may_import:
                found.append(f"{module} -> {target} ({home} may not import {there})")
                continue
            mine, theirs = owner(module, features), owner(target, features)
            if mine and theirs and mine != theirs and theirs not in feature_uses.get(mine, ()):
                found.append(f"{module} -> {target} (feature {mine} may not use {theirs})")
    return sorted(found)


@cache
def project_graph() -> dict[str, set[str]]:
    return import_graph(ROOT, PACKAGES)


def _edge(violation: str) -> str:
    return violation.split(" (", 1)[0]


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------


def test_no_module_imports_a_layer_above_its_own() -> None:
    found = violations(project_graph())
    unexpected = [violation for violation in found if _edge(violation) not in KNOWN_VIOLATIONS]
    assert unexpected == [], "imports against the layers (docs/architecture.md, Layers):\n" + (
        "\n".join(unexpected)
    )


def test_known_violations_still_exist() -> None:
    """An allow-list entry that no longer matches an import is removed, so the list shrinks
    as the helpers' branches are merged and cannot hide a future violation."""
    found = {_edge(violation) for violation in violations(project_graph())}
    stale = sorted(set(KNOWN_VIOLATIONS) - found)
    assert stale == [], f"remove from KNOWN_VIOLATIONS (fixed): {stale}"


def test_the_checker_reports_an_import_from_above() -> None:
    """The check can fail: a made-up store module importing a feature, a feature importing
    the CLI, the core importing the agent and a feature using one it does not declare."""
    graph = {
        "server.store.fake": {"server.alerts.models", "server.store.models", "xunjian.core"},
        "server.alerts.fake": {"server.cli", "server.store.models"},
        "xunjian.core.fake": {"agent.spool"},
        "server.files.fake": {"server.reports.models", "server.alerts.models"},
        "server.nowhere": set(),
    }
    assert violations(graph) == [
        "server.alerts.fake -> server.cli (features may not import top)",
        "server.files.fake -> server.reports.models (feature files may not use reports)",
        "server.nowhere (in no layer: add it to LAYERS in tests/test_layering.py)",
        "server.store.fake -> server.alerts.models (store may not import features)",
        "xunjian.core.fake -> agent.spool (core may not import agent)",
    ]


def test_imports_are_read_from_functions_and_relative_forms() -> None:
    source = textwrap.dedent(
        """
        import os
        from . import sibling
        from ..store import models

        def later():
            from server.cli import main
        """
    )
    names = set(imported_names(source, "server.alerts.fake", is_package=False))
    assert {"os", "server.alerts.sibling", "server.store.models", "server.cli.main"} <= names


def test_every_module_has_a_layer_and_the_features_use_each_other_without_cycles() -> None:
    layer_of = {layer.name: layer.modules for layer in LAYERS}
    homeless = [module for module in project_graph() if not owner(module, layer_of)]
    assert homeless == []
    assert set(FEATURE_USES) == set(FEATURES)
    graphlib.TopologicalSorter(FEATURE_USES).prepare()  # raises CycleError on a cycle


def test_the_core_needs_only_the_standard_library_cryptography_and_msgspec() -> None:
    outside = [
        f"{module} -> {name}"
        for module, path in module_files(ROOT, ["xunjian/core"]).items()
        for name in imported_names(path.read_text(), module, path.name == "__init__.py")
        if name.split(".")[0]
        not in {*sys.stdlib_module_names, "cryptography", "msgspec", "xunjian"}
    ]
    assert outside == []
