"""Policy settings in the console (issue 3): groups and their check parameters, the approved
users and software lists, notification channels and the on-call roster.

* ``models``   the notification settings tables (migration 0010_policy_settings)
* ``groups``   groups and their policy, validated against the check registry's parameter specs
* ``alerting`` channels and roster held in the database (config.json is the seed and fallback),
  read by the alert worker with a version check
* ``forms``    turning a notifier's settings dataclass into form fields and back
* ``views``    the pages (blueprint ``policy_settings`` under ``/settings/...``)

Only ``views`` imports Flask: the alert worker imports ``alerting`` without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def install(app: Flask) -> None:
    """The policy pages: ``/settings/groups``, channels and the on-call roster."""
    from server.policy_settings import views

    app.register_blueprint(views.blueprint)
