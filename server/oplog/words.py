"""The operation log's ids as words in the reader's language: actions, roles, and the actor
of a request made before anyone signed in.

The log itself keeps the stable ids (``monitors.add``, role ``none``, actor ``anonymous``):
they are what the chain hashes, what filters and exports match and what ``xunjian server oplog
verify`` prints. Pages show the words, with the id beside them for the filter. An action with
no word here is shown as its id; a test holds every action the server records to a word.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

ANONYMOUS = "anonymous"  # server/oplog/hook.py's actor of an unauthenticated request

_ACCOUNT_CREATED = _l("account created")
_ALERT_ACK = _l("alert acknowledged")
_ALERT_RESOLVE = _l("alert resolved")
_ALERT_COMMENT = _l("alert commented on")
_SCAN = _l("scan requested")
_DEVICE_ADDED = _l("device added")
_DEVICE_REMOVED = _l("device removed")
_DEVICE_CHECK = _l("device check requested")
_DEVICE_PASSWORD = _l("device's found password viewed")
_MONITOR_ADDED = _l("monitor added")
_MONITOR_CHANGED = _l("monitor settings changed")
_MONITOR_DELETED = _l("monitor deleted")
_WORDS_CHANGED = _l("defacement words changed")
_BASELINE_PROPOSED = _l("new page baseline proposed")
_BASELINE_APPROVED = _l("new page baseline approved")
_BASELINE_REJECTED = _l("new page baseline rejected")
_WATCH_SET = _l("watched folders and words set")
_REPORT_GENERATED = _l("weekly report generated")
_GROUP_CREATED = _l("group created")
_GROUP_RENAMED = _l("group renamed")
_POLICY_SAVED = _l("group policy saved")
_CHECK_RESET = _l("checks reset to their defaults")
_APPROVED_SAVED = _l("approved users and software saved")
_CHANNEL_CREATED = _l("notification channel created")
_CHANNEL_CHANGED = _l("notification channel changed")
_CHANNEL_DELETED = _l("notification channel deleted")
_CHANNEL_TESTED = _l("test message sent")
_CHANNELS_REVERTED = _l("config.json's channels and roster used again")
_ROSTER_SAVED = _l("on-call roster saved")
_AGENT_REFUSED = _l("agent request refused")
_ISOLATE = _l("host isolation requested")
_RELEASE = _l("host release from isolation requested")
_ISOLATION_CHANGE = _l("host isolation changed")
_EVIDENCE_UPLOAD = _l("evidence upload")
_EVIDENCE_READ = _l("evidence viewed")
_INCIDENT_OPEN = _l("incident opened")
_INCIDENT_NOTE = _l("incident note added")
_INCIDENT_ACK = _l("incident acknowledged")
_INCIDENT_CLOSE = _l("incident closed")
_INCIDENT_ATTACH = _l("alert added to an incident")
_INCIDENT_REPORT = _l("incident report downloaded")
_SITE_ADDED = _l("site added")
_SITE_CRAWL = _l("site crawl requested")

ACTION_WORDS: dict[str, Any] = {
    # console and API, as server/oplog/hook.py ACTIONS names them
    "console.login": _l("signed in"),
    "console.logout": _l("signed out"),
    "console.password.change": _l("password changed"),
    "console.command.create": _SCAN,
    "api.command.create": _SCAN,
    "console.alert.ack": _ALERT_ACK,
    "console.alert.resolve": _ALERT_RESOLVE,
    "console.alert.comment": _ALERT_COMMENT,
    "api.alert_ack": _ALERT_ACK,
    "api.alert_resolve": _ALERT_RESOLVE,
    "api.alert_comment": _ALERT_COMMENT,
    # a bulk change refused as a whole (each changed alert is an entry of its own)
    "alerts.bulk": _l("alerts changed together"),
    "console.device.check": _DEVICE_CHECK,
    # agents
    "agent.enroll": _l("agent enrolled"),
    "agent.refused": _AGENT_REFUSED,
    "agent_api.heartbeat_endpoint": _AGENT_REFUSED,
    "agent_api.reports": _AGENT_REFUSED,
    "agent_api.monitor_outcome": _AGENT_REFUSED,
    "http.refused": _l("request refused before it reached the server"),
    # the operation log itself
    "oplog.view": _l("operation log viewed"),
    "oplog.export": _l("operation log exported"),
    "oplog.read": _l("operation log read"),
    "oplog.purge": _l("old operation log entries removed"),
    # the command line on the server
    "cli.agent.rebaseline": _l("host baseline taken anew (command line)"),
    "cli.agent.revoke": _l("agent revoked (command line)"),
    "cli.api_token.create": _l("API token created (command line)"),
    "cli.enrollment_token.create": _l("enrollment token created (command line)"),
    "cli.user.create": _l("account created (command line)"),
    "monitor.create": _MONITOR_ADDED,
    "watch.set": _WATCH_SET,
    "device.check.now": _DEVICE_CHECK,
    "device.check.schedule": _l("device checks scheduled"),
    # devices
    "device.add": _DEVICE_ADDED,
    "device.remove": _DEVICE_REMOVED,
    "device.credential.view": _DEVICE_PASSWORD,
    "devices.add": _DEVICE_ADDED,
    "devices.check": _DEVICE_CHECK,
    "devices.check_all": _l("every device's check requested"),
    "devices.credential": _DEVICE_PASSWORD,
    "devices.remove_view": _DEVICE_REMOVED,
    "api.device_add": _DEVICE_ADDED,
    "api.device_check": _DEVICE_CHECK,
    "api.device_remove": _DEVICE_REMOVED,
    # monitors
    "monitors.add": _MONITOR_ADDED,
    "monitors.edit": _MONITOR_CHANGED,
    "monitors.delete": _MONITOR_DELETED,
    "monitors.maintenance": _l("monitor maintenance window set"),
    "monitors.words": _WORDS_CHANGED,
    "monitors.propose": _BASELINE_PROPOSED,
    "monitors.decide": _l("new page baseline decided"),
    "monitor.baseline.propose": _BASELINE_PROPOSED,
    "monitor.baseline.approve": _BASELINE_APPROVED,
    "monitor.baseline.reject": _BASELINE_REJECTED,
    "api.monitor_create": _MONITOR_ADDED,
    "api.monitor_update": _MONITOR_CHANGED,
    "api.monitor_delete": _MONITOR_DELETED,
    "api.monitor_propose": _BASELINE_PROPOSED,
    "api.monitor_approve": _BASELINE_APPROVED,
    "api.monitor_reject": _BASELINE_REJECTED,
    "api.defacement_words_put": _WORDS_CHANGED,
    # hosts, files, reports
    "fleet.scan_now": _SCAN,
    "files.set_watch": _WATCH_SET,
    "api.group_watch_set": _WATCH_SET,
    "api.host_command": _SCAN,
    "reports.generate": _REPORT_GENERATED,
    "report.generate": _REPORT_GENERATED,
    "report.export": _l("weekly report downloaded"),
    "report.public_key": _l("report signing public key downloaded"),
    "report.purge": _l("old weekly reports deleted"),
    # settings
    "settings.account_create": _ACCOUNT_CREATED,
    "settings.account_disable": _l("account disabled"),
    "settings.account_enable": _l("account enabled"),
    "settings.account_reset_password": _l("password reset"),
    "settings.account_role": _l("role changed"),
    "settings.api_token_create": _l("API token created"),
    "settings.api_token_revoke": _l("API token revoked"),
    "settings.enrollment_token_create": _l("enrollment token created"),
    "settings.enrollment_token_revoke": _l("enrollment token revoked"),
    "settings.retention_save": _l("retention or session time changed"),
    "settings.retention_reset": _l("setting returned to config.json's value"),
    "settings.group.create": _GROUP_CREATED,
    "settings.group.rename": _GROUP_RENAMED,
    "settings.group.policy": _POLICY_SAVED,
    "settings.group.reset": _CHECK_RESET,
    "settings.group.approved": _APPROVED_SAVED,
    "settings.channel.create": _CHANNEL_CREATED,
    "settings.channel.update": _CHANNEL_CHANGED,
    "settings.channel.delete": _CHANNEL_DELETED,
    "settings.channel.test": _CHANNEL_TESTED,
    "settings.channels.revert": _CHANNELS_REVERTED,
    "settings.roster": _ROSTER_SAVED,
    "policy_settings.create_group": _GROUP_CREATED,
    "policy_settings.rename_group": _GROUP_RENAMED,
    "policy_settings.save_policy": _POLICY_SAVED,
    "policy_settings.reset_all": _CHECK_RESET,
    "policy_settings.reset_check": _CHECK_RESET,
    "policy_settings.save_approved": _APPROVED_SAVED,
    "policy_settings.create_channel": _CHANNEL_CREATED,
    "policy_settings.update_channel": _CHANNEL_CHANGED,
    "policy_settings.delete_channel": _CHANNEL_DELETED,
    "policy_settings.test_channel": _CHANNEL_TESTED,
    "policy_settings.revert_channels": _CHANNELS_REVERTED,
    "policy_settings.save_roster": _ROSTER_SAVED,
    # host isolation (docs/incidents.md)
    "console.host.isolate": _ISOLATE,
    "console.host.release": _RELEASE,
    "console.host.isolation": _ISOLATION_CHANGE,
    "api.host.isolate": _ISOLATE,
    "api.host.release": _RELEASE,
    "cli.host.isolate": _ISOLATE,
    "cli.host.release": _RELEASE,
    "api.change_isolation": _ISOLATION_CHANGE,
    "isolation.change": _ISOLATION_CHANGE,
    "agent.isolation.report": _l("agent reported its isolation"),
    "agent.isolation.break_glass": _l("isolation lifted on the host itself (break-glass)"),
    # evidence
    "agent_api.evidence_start": _EVIDENCE_UPLOAD,
    "agent_api.evidence_chunk": _EVIDENCE_UPLOAD,
    "evidence.stored": _l("evidence stored"),
    "evidence.take_evidence": _l("evidence snapshot requested"),
    "evidence.list": _EVIDENCE_READ,
    "evidence.read": _EVIDENCE_READ,
    "evidence.manifest": _EVIDENCE_READ,
    "evidence.download": _l("evidence downloaded"),
    "evidence.purge": _l("old evidence removed"),
    # incidents
    "incidents.open": _INCIDENT_OPEN,
    "incident.open": _INCIDENT_OPEN,
    "api.incident_open": _INCIDENT_OPEN,
    "incidents.note": _INCIDENT_NOTE,
    "incident.note": _INCIDENT_NOTE,
    "api.incident_note": _INCIDENT_NOTE,
    "incidents.ack": _INCIDENT_ACK,
    "api.incident_ack": _INCIDENT_ACK,
    "incidents.close": _INCIDENT_CLOSE,
    "api.incident_close": _INCIDENT_CLOSE,
    "incidents.attach": _INCIDENT_ATTACH,
    "api.incident_alerts": _INCIDENT_ATTACH,
    "incident.report": _INCIDENT_REPORT,
    "api.incident_report": _INCIDENT_REPORT,
    "console.incident.report": _INCIDENT_REPORT,
    # site health (docs/sites.md)
    "sites.add": _SITE_ADDED,
    "site.create": _SITE_ADDED,
    "api.site_create": _SITE_ADDED,
    "api.site_update": _l("site settings changed"),
    "sites.crawl_now": _SITE_CRAWL,
    "site.crawl": _SITE_CRAWL,
    "api.site_crawl": _SITE_CRAWL,
}

ROLE_WORDS: dict[str, Any] = {
    "admin": _l("admin"),
    "operator": _l("operator"),
    "auditor": _l("auditor"),
    "none": _l("not signed in"),
    "cli": _l("command line on the server"),
    "agent": _l("agent"),
    "system": _l("the server itself"),
}


def action_word(action: str) -> str:
    """The action in the reader's language, or its id when it has no word yet."""
    word = ACTION_WORDS.get(action)
    return action if word is None else str(word)


def role_word(role: str) -> str:
    word = ROLE_WORDS.get(role)
    return role if word is None else str(word)


def actor_word(actor: str) -> str:
    """``anonymous`` (a request before sign-in) as words; a person's or agent's name as it is."""
    return str(_l("not signed in")) if actor == ANONYMOUS else actor
