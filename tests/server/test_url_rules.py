"""URL builders made once per process and shared by equal rules of every app
(server/url_rules.py), and still right for each app."""

from __future__ import annotations

from flask import Flask, url_for

from server.app import create_app
from server.url_rules import SharedBuilderRule
from tests.server.conftest import Server


def _rule(app: Flask, endpoint: str) -> SharedBuilderRule:
    [rule] = [rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint]
    assert isinstance(rule, SharedBuilderRule)
    return rule


def test_a_second_app_shares_the_first_ones_builders_and_builds_the_same_urls(
    server: Server,
) -> None:
    again = create_app(server.data)
    try:
        endpoints = {rule.endpoint for rule in server.app.url_map.iter_rules()}
        assert len(endpoints) > 100
        for endpoint in endpoints:
            first, second = _rule(server.app, endpoint), _rule(again, endpoint)
            assert first is not second
            assert first._build.__func__ is second._build.__func__
            assert first._build_unknown.__func__ is second._build_unknown.__func__
        for app in (server.app, again):
            with app.test_request_context():
                assert url_for("alerts.detail", alert_id=7) == "/alerts/7"
                assert url_for("alerts.detail", alert_id=7, page=2) == "/alerts/7?page=2"
    finally:
        again.extensions["xunjian"].engine.dispose()


def _app_with_default(page: int) -> Flask:
    app = Flask(__name__)
    app.url_rule_class = SharedBuilderRule
    app.add_url_rule("/list/<int:page>", "listing", lambda page: "", defaults={"page": page})
    return app


def test_a_rule_with_a_default_for_its_own_variable_is_compiled_for_its_app() -> None:
    # Werkzeug turns such a default into text while compiling the builder, so sharing it
    # would give the second app the first one's page.
    for page in (3, 5):
        app = _app_with_default(page)
        with app.test_request_context():
            assert url_for("listing") == f"/list/{page}"
