"""The policy settings pages (blueprint ``policy_settings``, under ``/settings/...``).

Settings are the administrator's: every page is for admins only, except the on-call roster,
which every signed-in person may read (the response team must know who answers; POLICY.md
P1). Every change is a POST with the CSRF token, validated before anything is written (a
refusal is a 400 page naming the field, logged, and changes nothing), and recorded in the
operation log with an action name of its own and no secret in it.

Endpoints the Settings landing page links to: ``policy_settings.groups_page``,
``policy_settings.channels``, ``policy_settings.roster``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import abort, current_app, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from server.alerts.channels import SEVERITY_ORDER
from server.console.auth import console_blueprint, login_required, roles_required
from server.notify import NOTIFIERS
from server.oplog.hook import record
from server.policy import StalePolicy
from server.policy_settings import alerting, forms, groups
from server.state import current_state, db_session, events, log_refusal
from server.store.models import Group

blueprint = console_blueprint("policy_settings", __name__, url_prefix="/settings")

ADMIN = "admin"
LANDING_ENDPOINT = "settings.index"
MAX_CHANGED_IN_LOG = 50
MAX_TIER_ROWS = alerting.MAX_TIERS + 1

# Notifier settings as people read them; the setting's own name is shown beside it.
SETTING_LABELS: dict[str, Any] = {
    "url": _l("Address (URL)"),
    "webhook_url": _l("Robot webhook address (holds its key)"),
    "secret": _l("Signing secret"),
    "timeout_seconds": _l("Timeout (seconds)"),
    "ca_file": _l("CA certificate file (PEM) for an internal CA"),
    "allow_http": _l("Allow plain http to a private address"),
    "language": _l("Language of the messages"),
    "msgtype": _l("Message type"),
    "msg_type": _l("Message type"),
    "at_mobiles": _l("Mobiles to mention, one a line"),
    "at_all": _l("Mention everyone"),
    "keyword": _l("Keyword the robot requires"),
    "mentioned_mobiles": _l("Mobiles to mention, one a line"),
    "host": _l("SMTP server"),
    "port": _l("Port"),
    "security": _l("Connection security"),
    "username": _l("User name"),
    "password": _l("Password"),
    "from_address": _l("From address"),
    "from_name": _l("From name"),
    "to": _l("To addresses, one a line"),
    "subject_prefix": _l("Subject prefix"),
    "helo_name": _l("Name given in EHLO"),
}
KIND_LABELS: dict[str, Any] = {
    "email": _l("Email (SMTP)"),
    "webhook": _l("Generic webhook"),
    "dingtalk": _l("DingTalk robot"),
    "wecom": _l("WeCom robot"),
    "feishu": _l("Feishu robot"),
}


# The check registry's categories (checks/library), as headings of the policy page.
CATEGORY_LABELS: dict[str, Any] = {
    "accounts": _l("Accounts"),
    "password": _l("Passwords"),
    "services": _l("Services and ports"),
    "network": _l("Network"),
    "patch": _l("Patches and updates"),
    "ssh": _l("SSH"),
    "files": _l("Files and permissions"),
    "antivirus": _l("Antivirus"),
    "software": _l("Software"),
    "firewall": _l("Firewall"),
    "backup": _l("Backups"),
    "jobs": _l("Scheduled jobs"),
    "system": _l("System protection"),
    "logs": _l("Logs"),
}


@blueprint.app_template_global("policy_category_label")
def category_label(category: str) -> str:
    label = CATEGORY_LABELS.get(category)
    return str(label) if label is not None else category


@blueprint.app_template_global("policy_setting_label")
def setting_label(name: str) -> str:
    label = SETTING_LABELS.get(name)
    return str(label) if label is not None else name


@blueprint.app_template_global("policy_kind_label")
def kind_label(kind: str) -> str:
    label = KIND_LABELS.get(kind)
    return str(label) if label is not None else kind


@blueprint.context_processor
def _helpers() -> dict[str, Any]:
    landing = LANDING_ENDPOINT if LANDING_ENDPOINT in current_app.view_functions else None
    endpoint = request.endpoint or ""
    tab = next((tab for tab in ("roster", "channel", "group", "approved") if tab in endpoint), "")
    return {
        "settings_landing": landing,
        "severities": SEVERITY_ORDER,
        "ps_tab": {"channel": "channels", "group": "groups", "approved": "groups"}.get(tab, tab),
    }


def _actor() -> str:
    return str(g.user.name)


def _data() -> Path:
    """The data folder: its secret-key seals and opens channel secrets."""
    return current_state().paths.root


def _refused(action: str, target: str, errors: Mapping[str, str]) -> None:
    """Log a refused change (the field names and reasons; never a submitted value)."""
    reason = "; ".join(f"{field}: {why}" for field, why in errors.items())[:500]
    log_refusal(400, f"{action} {target} refused: {reason}")
    record(action, outcome="refused", reason=reason, target=target)


def _form() -> dict[str, str]:
    return request.form.to_dict(flat=True)


# --- groups --------------------------------------------------------------------------------


@blueprint.get("/groups")
@roles_required(ADMIN)
def groups_page() -> ResponseReturnValue:
    return _groups_page()


def _groups_page(
    errors: Mapping[str, str] | None = None, name: str = "", status: int = 200
) -> ResponseReturnValue:
    with db_session() as db:
        rows = groups.list_groups(db)
    return render_template(
        "policy_settings/groups.html", groups=rows, errors=errors or {}, name=name
    ), status


@blueprint.post("/groups")
@roles_required(ADMIN)
def create_group() -> ResponseReturnValue:
    name = request.form.get("name", "").strip()[:200]
    with db_session() as db:
        try:
            group = groups.create_group(db, name)
            db.commit()
        except groups.FormErrors as refused:
            _refused("settings.group.create", "", refused.errors)
            return _groups_page(refused.errors, name, 400)
        except IntegrityError:
            db.rollback()
            errors = {"name": f"a group named {name!r} exists"}
            _refused("settings.group.create", "", errors)
            return _groups_page(errors, name, 409)
        group_id = group.id
    record("settings.group.create", target=f"group:{group_id}", details={"name": name})
    events.info("user %s created group %s", _actor(), name)
    return redirect(url_for("policy_settings.group_page", group_id=group_id))


def _group(db: Any, group_id: int) -> Group:
    group = groups.group_or_none(db, group_id)
    if group is None:
        abort(404)
    return group


@blueprint.get("/groups/<int:group_id>")
@roles_required(ADMIN)
def group_page(group_id: int) -> ResponseReturnValue:
    return _group_page(group_id)


def _group_page(
    group_id: int,
    errors: Mapping[str, str] | None = None,
    submitted: Mapping[str, str] | None = None,
    status: int = 200,
    rename_errors: Mapping[str, str] | None = None,
    stale: bool = False,
) -> ResponseReturnValue:
    with db_session() as db:
        group = _group(db, group_id)
        checks = groups.check_forms(group, submitted)
        hosts = next((row.hosts for row in groups.list_groups(db) if row.id == group_id), 0)
    by_category: dict[str, list[groups.CheckForm]] = {}
    for check in checks:
        by_category.setdefault(check.category, []).append(check)
    return render_template(
        "policy_settings/group.html",
        group=group,
        hosts=hosts,
        categories=by_category,
        errors=errors or {},
        rename_errors=rename_errors or {},
        saved=request.args.get("saved"),
        stale=stale,
        # A refused form keeps the version it was made from, so fixing it cannot overwrite a
        # change someone saved in between.
        form_version=groups.form_version(submitted) if submitted is not None else None,
    ), status


@blueprint.post("/groups/<int:group_id>/rename")
@roles_required(ADMIN)
def rename_group(group_id: int) -> ResponseReturnValue:
    name = request.form.get("name", "").strip()[:200]
    target = f"group:{group_id}"
    with db_session() as db:
        group = _group(db, group_id)
        before = group.name
        try:
            version = groups.rename_group(db, group, name)
            db.commit()
        except groups.FormErrors as refused:
            db.rollback()
            _refused("settings.group.rename", target, refused.errors)
            return _group_page(group_id, status=400, rename_errors=refused.errors)
    record(
        "settings.group.rename",
        target=target,
        details={"from": before, "to": name, "policy_version": version},
    )
    return redirect(url_for("policy_settings.group_page", group_id=group_id, saved="rename"))


@blueprint.post("/groups/<int:group_id>/policy")
@roles_required(ADMIN)
def save_policy(group_id: int) -> ResponseReturnValue:
    form = _form()
    target = f"group:{group_id}"
    with db_session() as db:
        group = _group(db, group_id)
        try:
            checks, changed = groups.parse_policy_form(group, form)
        except groups.FormErrors as refused:
            _refused("settings.group.policy", target, refused.errors)
            return _group_page(group_id, refused.errors, form, 400)
        if not changed and checks == ((group.policy or {}).get("checks") or {}):
            return redirect(
                url_for("policy_settings.group_page", group_id=group_id, saved="nothing")
            )
        try:
            version = groups.save_checks(db, group, checks, groups.form_version(form))
        except StalePolicy:
            db.rollback()
            return _stale("settings.group.policy", target, group_id)
        db.commit()
    record(
        "settings.group.policy",
        target=target,
        details={"policy_version": version, "changed": changed[:MAX_CHANGED_IN_LOG]},
    )
    events.info("user %s changed the policy of group %s (version %s)", _actor(), group_id, version)
    return redirect(url_for("policy_settings.group_page", group_id=group_id, saved="policy"))


def _stale(action: str, target: str, group_id: int, approved: bool = False) -> ResponseReturnValue:
    """Someone saved the group's policy after this form was made: refuse (409) and show the
    current policy, so nobody overwrites a change they never saw."""
    reason = "the policy changed since the page was opened"
    log_refusal(409, f"{action} {target} refused: {reason}")
    record(action, outcome="refused", reason=reason, target=target)
    if approved:
        with db_session() as db:
            group = _group(db, group_id)
            lists = groups.approved_lists(group)
        return render_template(
            "policy_settings/approved.html",
            group=group,
            texts={name: "\n".join(names) for name, names in lists.items()},
            counts={name: len(names) for name, names in lists.items()},
            errors={},
            saved=None,
            stale=True,
            limits=groups.approved_limits(),
        ), 409
    return _group_page(group_id, status=409, stale=True)


@blueprint.post("/groups/<int:group_id>/reset/<check_id>")
@roles_required(ADMIN)
def reset_check(group_id: int, check_id: str) -> ResponseReturnValue:
    target = f"group:{group_id}"
    with db_session() as db:
        group = _group(db, group_id)
        version = groups.reset_check(db, group, check_id[:128])
        db.commit()
    record(
        "settings.group.reset",
        target=target,
        details={"check": check_id[:128], "policy_version": version},
    )
    return redirect(url_for("policy_settings.group_page", group_id=group_id, saved="reset"))


@blueprint.post("/groups/<int:group_id>/reset")
@roles_required(ADMIN)
def reset_all(group_id: int) -> ResponseReturnValue:
    with db_session() as db:
        group = _group(db, group_id)
        version = groups.reset_all(db, group)
        db.commit()
    record(
        "settings.group.reset",
        target=f"group:{group_id}",
        details={"check": "*", "policy_version": version},
    )
    return redirect(url_for("policy_settings.group_page", group_id=group_id, saved="reset"))


@blueprint.get("/groups/<int:group_id>/approved")
@roles_required(ADMIN)
def approved_page(group_id: int) -> ResponseReturnValue:
    with db_session() as db:
        group = _group(db, group_id)
        lists = groups.approved_lists(group)
    texts = {name: "\n".join(names) for name, names in lists.items()}
    return render_template(
        "policy_settings/approved.html",
        group=group,
        texts=texts,
        counts={name: len(names) for name, names in lists.items()},
        errors={},
        saved=request.args.get("saved"),
        limits=groups.approved_limits(),
    )


@blueprint.post("/groups/<int:group_id>/approved")
@roles_required(ADMIN)
def save_approved(group_id: int) -> ResponseReturnValue:
    target = f"group:{group_id}"
    form = {name: request.form.get(name, "") for name in ("users", "software")}
    with db_session() as db:
        group = _group(db, group_id)
        try:
            lists = groups.parse_approved_form(form)
        except groups.FormErrors as refused:
            _refused("settings.group.approved", target, refused.errors)
            return render_template(
                "policy_settings/approved.html",
                group=group,
                texts=form,
                counts={name: len(names) for name, names in groups.approved_lists(group).items()},
                errors=refused.errors,
                saved=None,
                limits=groups.approved_limits(),
                form_version=groups.form_version(request.form.to_dict()),
            ), 400
        try:
            version = groups.save_approved(
                db, group, lists, groups.form_version(request.form.to_dict())
            )
        except StalePolicy:
            db.rollback()
            return _stale("settings.group.approved", target, group_id, approved=True)
        db.commit()
    if version is not None:
        record(
            "settings.group.approved",
            target=target,
            details={
                "policy_version": version,
                **{name: len(names) for name, names in lists.items()},
            },
        )
    return redirect(url_for("policy_settings.approved_page", group_id=group_id, saved=1))


# --- channels ------------------------------------------------------------------------------


@blueprint.get("/channels")
@roles_required(ADMIN)
def channels() -> ResponseReturnValue:
    config = current_state().config
    with db_session() as db:
        found, views = alerting.channel_views(db, config, data=_data())
    return render_template(
        "policy_settings/channels.html",
        alerting=found,
        channels=views,
        kinds=list(NOTIFIERS),
        config_channels=len(config.notify_channels),
        saved=request.args.get("saved"),
    )


def _channel_page(
    kind: str,
    view: alerting.ChannelView | None,
    values: Mapping[str, str],
    min_severity: str,
    *,
    name: str = "",
    errors: Mapping[str, str] | None = None,
    trial: alerting.TrialOutcome | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    return render_template(
        "policy_settings/channel.html",
        kind=kind,
        channel=view,
        name=view.name if view is not None else name,
        fields=forms.setting_fields(kind),
        values=values,
        min_severity=min_severity,
        errors=errors or {},
        trial=trial,
        saved=request.args.get("saved"),
    ), status


def _kind_arg(raw: str) -> str:
    if raw not in NOTIFIERS:
        abort(404)
    return raw


@blueprint.get("/channels/new")
@roles_required(ADMIN)
def new_channel() -> ResponseReturnValue:
    kind = _kind_arg(request.args.get("kind", "webhook"))
    return _channel_page(kind, None, forms.form_values(kind, {}), "low")


@blueprint.post("/channels/new")
@roles_required(ADMIN)
def create_channel() -> ResponseReturnValue:
    form = _form()
    kind = _kind_arg(form.get("kind", ""))
    name = form.get("name", "").strip()[:200]
    min_severity = form.get("min_severity", "low")[:16]
    action, target = "settings.channel.create", f"channel:{name[:64]}"
    config = current_state().config
    try:
        settings = forms.settings_from_form(kind, form, None)
        with db_session() as db:
            version = alerting.create_channel(
                db, config, _actor(), name, kind, min_severity, settings, data=_data()
            )
            db.commit()
    except alerting.SettingsError as refused:
        errors = {refused.field: refused.reason}
        _refused(action, target, errors)
        shown = forms.form_values(kind, _readable(kind, form))
        return _channel_page(kind, None, shown, min_severity, name=name, errors=errors, status=400)
    record(
        action,
        target=target,
        details={
            "kind": kind,
            "min_severity": min_severity,
            "settings": sorted(settings),
            "notify_version": version,
        },
    )
    events.info("user %s created notification channel %s (%s)", _actor(), name, kind)
    return redirect(url_for("policy_settings.channel_page", name=name, saved=1))


def _readable(kind: str, form: Mapping[str, str]) -> dict[str, Any]:
    """A refused form's non-secret values, to show it again (as text, best effort)."""
    shown: dict[str, Any] = {}
    for field in forms.setting_fields(kind):
        key = forms.form_key(field.name)
        if field.widget == "secret":
            continue
        if field.widget == "bool":
            shown[field.name] = key in form
        elif field.widget == "lines":
            shown[field.name] = form.get(key, "").splitlines()
        elif key in form:
            shown[field.name] = form[key]
    return shown


def _stored(name: str) -> tuple[str, dict[str, Any], alerting.ChannelView]:
    config = current_state().config
    with db_session() as db:
        try:
            kind, settings = alerting.stored_settings(db, config, name, data=_data())
        except LookupError:
            abort(404)
        _alerting, views = alerting.channel_views(db, config, data=_data())
    view = next((v for v in views if v.name == name), None)
    if view is None:
        view = alerting.public_view(name, kind, "low", settings, None)
    return kind, settings, view


@blueprint.get("/channels/<name>")
@roles_required(ADMIN)
def channel_page(name: str) -> ResponseReturnValue:
    kind, settings, view = _stored(name)
    return _channel_page(kind, view, forms.form_values(kind, settings), view.min_severity)


@blueprint.post("/channels/<name>")
@roles_required(ADMIN)
def update_channel(name: str) -> ResponseReturnValue:
    form = _form()
    kind, stored, view = _stored(name)
    min_severity = form.get("min_severity", "low")[:16]
    action, target = "settings.channel.update", f"channel:{name}"
    config = current_state().config
    try:
        with db_session() as db:
            lost = alerting.lost_secrets(db, name, data=_data())
        settings = forms.settings_from_form(kind, form, stored, lost)
        with db_session() as db:
            version = alerting.update_channel(
                db, config, _actor(), name, min_severity, settings, data=_data()
            )
            db.commit()
    except alerting.SettingsError as refused:
        errors = {refused.field: refused.reason}
        _refused(action, target, errors)
        shown = forms.form_values(kind, _readable(kind, form))
        return _channel_page(kind, view, shown, min_severity, errors=errors, status=400)
    changed = sorted(
        key for key in set(stored) | set(settings) if stored.get(key) != settings.get(key)
    )
    record(
        action,
        target=target,
        details={
            "kind": kind,
            "min_severity": min_severity,
            "changed": changed,  # setting names only: never a value (secrets)
            "notify_version": version,
        },
    )
    events.info("user %s changed notification channel %s", _actor(), name)
    return redirect(url_for("policy_settings.channel_page", name=name, saved=1))


@blueprint.post("/channels/<name>/delete")
@roles_required(ADMIN)
def delete_channel(name: str) -> ResponseReturnValue:
    action, target = "settings.channel.delete", f"channel:{name}"
    kind, stored, view = _stored(name)
    config = current_state().config
    try:
        with db_session() as db:
            version = alerting.delete_channel(db, config, _actor(), name, data=_data())
            db.commit()
    except alerting.Conflict as refused:
        log_refusal(409, f"{action} {target} refused: {refused.reason}")
        record(action, outcome="refused", reason=refused.reason, target=target)
        return _channel_page(
            kind,
            view,
            forms.form_values(kind, stored),
            view.min_severity,
            errors={"delete": refused.reason},
            status=409,
        )
    record(action, target=target, details={"kind": kind, "notify_version": version})
    return redirect(url_for("policy_settings.channels", saved="deleted"))


@blueprint.post("/channels/<name>/test")
@roles_required(ADMIN)
def test_channel(name: str) -> ResponseReturnValue:
    kind, stored, view = _stored(name)
    outcome = alerting.send_trial(kind, stored, _actor(), current_state().config.console_timezone)
    record(
        "settings.channel.test",
        target=f"channel:{name}",
        outcome="ok" if outcome.ok else "error",
        reason="" if outcome.ok else outcome.detail,
        details={"kind": kind},
    )
    return _channel_page(
        kind, view, forms.form_values(kind, stored), view.min_severity, trial=outcome
    )


@blueprint.post("/channels/revert")
@roles_required(ADMIN)
def revert_channels() -> ResponseReturnValue:
    with db_session() as db:
        version = alerting.revert_to_config(db, _actor())
        db.commit()
    record("settings.channels.revert", target="notify", details={"notify_version": version})
    return redirect(url_for("policy_settings.channels", saved="reverted"))


# --- the on-call roster --------------------------------------------------------------------

PERSON_SEPARATOR = re.compile(r"[,，\t]")


def _people_text(people: tuple[alerting.Person, ...]) -> str:
    return "\n".join(f"{person.name}, {person.contact}" for person in people)


def _parse_people(text: str, where: str) -> tuple[alerting.Person, ...]:
    people = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = PERSON_SEPARATOR.split(line)
        if len(parts) < 2:
            raise alerting.SettingsError(f"{where}.people", "write each person as: name, contact")
        people.append(alerting.Person(",".join(parts[:-1]).strip(), parts[-1].strip()))
    if len(people) > alerting.MAX_PEOPLE_PER_TIER:
        raise alerting.SettingsError(
            f"{where}.people", f"at most {alerting.MAX_PEOPLE_PER_TIER} people a tier"
        )
    return tuple(people)


def _roster_rows(tiers: tuple[alerting.Tier, ...]) -> list[dict[str, Any]]:
    rows = [
        {
            "position": str(index),
            "people": _people_text(tier.people),
            "channels": list(tier.channels),
            "after": ""
            if tier.escalate_after_seconds is None
            else str(tier.escalate_after_seconds),
            "remove": False,
        }
        for index, tier in enumerate(tiers, start=1)
    ]
    rows.append(
        {
            "position": str(len(tiers) + 1),
            "people": "",
            "channels": [],
            "after": "",
            "remove": False,
        }
    )
    return rows


def _submitted_rows() -> list[dict[str, Any]]:
    try:
        count = int(request.form.get("rows", "0"))
    except ValueError:
        count = 0
    rows = []
    for index in range(min(max(count, 0), MAX_TIER_ROWS)):
        key = f"t{index}"
        rows.append(
            {
                "position": request.form.get(f"{key}.position", "").strip()[:6],
                "people": request.form.get(f"{key}.people", "")[:10_000],
                "channels": [name[:64] for name in request.form.getlist(f"{key}.channels")][:100],
                "after": request.form.get(f"{key}.after", "").strip()[:12],
                "remove": f"{key}.remove" in request.form,
            }
        )
    return rows


def _tiers_from_rows(rows: list[dict[str, Any]]) -> tuple[alerting.Tier, ...]:
    kept: list[tuple[int, int, dict[str, Any]]] = []
    for index, row in enumerate(rows):
        if row["remove"] or (not row["channels"] and not row["people"].strip()):
            continue
        if not row["position"].isdigit():
            raise alerting.SettingsError(f"row{index + 1}.position", "a whole number")
        kept.append((int(row["position"]), index, row))
    kept.sort(key=lambda item: (item[0], item[1]))
    tiers = []
    for number, (_position, _index, row) in enumerate(kept, start=1):
        where = f"tier{number}"
        after_text = row["after"]
        after: int | None = None
        if after_text:
            if not after_text.isdigit():
                raise alerting.SettingsError(f"{where}.escalate_after_seconds", "a whole number")
            after = int(after_text)
        if number == len(kept):
            after = None  # nothing to escalate to after the last tier
        tiers.append(
            alerting.Tier(tuple(row["channels"]), _parse_people(row["people"], where), after)
        )
    return tuple(tiers)


def _roster_page(
    rows: list[dict[str, Any]] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    config = current_state().config
    with db_session() as db:
        found = alerting.load_alerting(db, config, data=_data())
        broken = [name for name, _ in found.broken]
    return render_template(
        "policy_settings/roster.html",
        alerting=found,
        channel_names=[channel.name for channel in found.channels] + broken,
        rows=rows if rows is not None else _roster_rows(found.tiers),
        can_edit=g.user.role == ADMIN,
        errors=errors or {},
        saved=request.args.get("saved"),
    ), status


@blueprint.get("/roster")
@login_required
def roster() -> ResponseReturnValue:
    return _roster_page()


@blueprint.post("/roster")
@roles_required(ADMIN)
def save_roster() -> ResponseReturnValue:
    rows = _submitted_rows()
    config = current_state().config
    try:
        tiers = _tiers_from_rows(rows)
        with db_session() as db:
            version = alerting.save_roster(db, config, _actor(), tiers, data=_data())
            db.commit()
    except alerting.SettingsError as refused:
        errors = {refused.field: refused.reason}
        _refused("settings.roster", "roster", errors)
        return _roster_page(rows, errors, 400)
    record(
        "settings.roster",
        target="roster",
        details={
            "tiers": len(tiers),
            "people": sum(len(tier.people) for tier in tiers),
            "notify_version": version,
        },
    )
    events.info("user %s changed the on-call roster (%d tiers)", _actor(), len(tiers))
    return redirect(url_for("policy_settings.roster", saved=1))
