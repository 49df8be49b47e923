"""The tamper-evident operation log (POLICY.md E12, A1, A3; DESIGN.md "The operation log").

Each entry carries the SHA-256 of its own fields and of the entry before it; every N entries the
head of that chain is signed with an Ed25519 key kept in the data folder, outside the database,
so someone who can write to the database alone cannot rewrite history unnoticed.

Modules: ``models`` (tables), ``chain`` (canonical encoding and hashes), ``signing`` (the key
and checkpoint signatures), ``store`` (race-safe append, checkpoints, purge, reading),
``verify``, ``hook`` (Flask recording), ``api`` (``GET /api/v1/oplog``), ``views`` (the
console's Operation log page), ``cli``. ``install(app)`` plugs the hook, the API and the page
into the app.

This package's ``__init__`` imports nothing (``install`` imports when called), so
``server.store.models`` or the migration environment may import ``server.oplog.models``
without an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def install(app: Flask) -> None:
    """Record the app's requests (``hook``), serve ``GET /api/v1/oplog`` (nested in the app's
    ``/api/v1``) and the console's Operation log page."""
    from server import api
    from server.console.nav import add_nav_items
    from server.oplog import api as oplog_api
    from server.oplog import views
    from server.oplog.hook import install_hook
    from server.oplog.words import action_word, actor_word, role_word

    api.nest(app, oplog_api.blueprint)
    # For every page that lists entries (this feature's and a host's, server/fleet).
    app.add_template_global(action_word, "oplog_action")
    app.add_template_global(actor_word, "oplog_actor")
    app.add_template_global(role_word, "oplog_role")
    app.register_blueprint(views.blueprint)
    add_nav_items(app, views.NAV)
    install_hook(app)
