"""One way to plug a feature in (docs/architecture.md, "Features"): each feature's
``install(app)`` nests its API under the app's ``/api/v1`` blueprint, registers its pages and
navigation entries and adds its background thread; importing the packages does nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from server.app import create_app
from server.console.nav import EXTENSION_KEY as NAV_KEY
from server.threads import EXTENSION_KEY as THREADS_KEY
from tests.server.conftest import Server

FEATURES = (
    "alerts",
    "console",
    "devices",
    "files",
    "fleet",
    "incidents",
    "isolation",
    "jobs",
    "monitors",
    "oplog",
    "policy_settings",
    "reports",
    "settings",
)


def test_every_rest_view_is_nested_in_the_api_blueprint(server: Server) -> None:
    rest = [
        rule
        for rule in server.app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and not rule.rule.startswith("/api/v1/agent/")
    ]
    outside = [rule.rule for rule in rest if not rule.endpoint.startswith("api.")]
    assert outside == []
    nested = {rule.endpoint.split(".")[1] for rule in rest}
    assert nested == {
        "meta",
        "hosts",
        "isolation",
        "alerts",
        "devices",
        "evidence",
        "files",
        "incidents",
        "monitors",
        "oplog",
        "reports",
        "sites",
    }


def test_install_adds_the_navigation_and_the_threads(server: Server) -> None:
    nav = server.app.extensions[NAV_KEY]
    assert {"fleet.dashboard", "alerts.index", "settings.index", "oplog_pages.index"} <= set(nav)
    started_by = [spec.start.__name__ for spec in server.app.extensions[THREADS_KEY]]
    assert sorted(started_by) == sorted(
        [
            "start_alert_worker",
            "start_device_worker",
            "start_incident_worker",
            "start_job_runner",
            "start_monitor_scheduler",
            "start_site_crawler",
            "start_snapshot_worker",
        ]
    )


def test_a_second_app_in_the_same_process_gets_its_own_api_blueprint(server: Server) -> None:
    second = create_app(server.data)
    assert second.extensions["xunjian.api"] is not server.app.extensions["xunjian.api"]
    assert {rule.rule for rule in second.url_map.iter_rules()} == {
        rule.rule for rule in server.app.url_map.iter_rules()
    }
    second.extensions["xunjian"].engine.dispose()


def test_importing_the_feature_packages_imports_nothing() -> None:
    probe = textwrap.dedent(
        f"""
        import importlib, json, sys
        for name in {FEATURES!r}:
            importlib.import_module("server." + name).install
        print(json.dumps(sorted(sys.modules)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(done.stdout)
    heavy = [name for name in loaded if name.split(".")[0] in ("flask", "sqlalchemy")]
    assert heavy == []
