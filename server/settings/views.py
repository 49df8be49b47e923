"""The Settings pages (admin only): the landing page and its layout, console accounts,
enrollment tokens, API tokens, retention and session idle.

Every write is a POST form with the CSRF token (``console_blueprint``) and is an operation log
entry: the view records it itself with the endpoint name as the action, a target naming the
account or token (``user:NAME``, ``token:PREFIX``) and details that never hold a password or a
token. A secret made here (one-time password, token, enroll line) is shown once, in the answer
to the POST that made it; nothing keeps it.

The policy pages (groups, approved lists, roster, channels) are another blueprint's
(``policy_settings``); they appear on the landing page and in the settings menu when their
endpoints exist. A feature adds its own section with ``add_settings_section``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console.auth import console_blueprint, roles_required, value_label
from server.console.nav import NavItem
from server.oplog.hook import record
from server.settings.accounts import (
    AccountRefused,
    add_account,
    change_role,
    list_accounts,
    reset_password,
    set_disabled,
)
from server.settings.runtime import (
    SPECS,
    SettingError,
    effective_settings,
    reset_setting,
    set_setting,
)
from server.settings.tokens import (
    MAX_ENROLLMENT_USES,
    MAX_TOKEN_NAME,
    MSI_DOWNLOAD_NAME,
    TokenError,
    enroll_line,
    group_names,
    list_api_tokens,
    list_enrollment_tokens,
    msiexec_line,
    new_api_token,
    new_enrollment_token,
    offered_msi,
    parse_lifetime,
    revoke_api_token_by_id,
    revoke_enrollment_token,
)
from server.state import current_state, db_session, log_refusal
from server.store.accounts import MAX_NAME_LENGTH, AccountError
from server.store.models import ROLES, User

blueprint = console_blueprint("settings", __name__, url_prefix="/settings")
ADMIN = "admin"

NAV = (NavItem("settings.index", _l("Settings"), 90, (ADMIN,)),)

# The run-time settings as the retention page shows them: form field -> (setting, unit seconds)
RETENTION_FIELDS = {
    "oplog_retention_days": ("oplog_retention_days", 1),
    "evidence_retention_days": ("evidence_retention_days", 1),
    "results_retention_days": ("results_retention_days", 1),
    "session_idle_minutes": ("session_idle_seconds", 60),
}


@dataclass(frozen=True)
class SettingsSection:
    endpoint: str
    label: Any  # lazy_gettext
    description: Any
    order: int
    aliases: tuple[str, ...] = ()  # other names the page's endpoint may have

    def resolve(self, views: Any) -> SettingsSection | None:
        """This section with the endpoint that exists in the app, or None."""
        for name in (self.endpoint, *self.aliases):
            if name in views:
                return SettingsSection(name, self.label, self.description, self.order)
        return None


_SECTIONS: dict[str, SettingsSection] = {}


def add_settings_section(
    endpoint: str, label: Any, description: Any, order: int, aliases: tuple[str, ...] = ()
) -> None:
    """A section on the Settings landing page and in its menu, shown while ``endpoint`` (or
    one of ``aliases``) exists in the app. Registering an endpoint again replaces its entry."""
    _SECTIONS[endpoint] = SettingsSection(endpoint, label, description, order, aliases)


for _section in (
    SettingsSection(
        "settings.accounts",
        _l("Console accounts"),
        _l("One account per person and role; add, change roles, disable, reset passwords."),
        10,
    ),
    SettingsSection(
        "settings.enrollment_tokens",
        _l("Enrollment tokens"),
        _l("Tokens that let a new PC or server join a group; create, list, revoke."),
        20,
    ),
    SettingsSection(
        "settings.api_tokens",
        _l("API tokens"),
        _l("Tokens for scripts and auditors, acting with a person's role."),
        30,
    ),
    # The policy pages (blueprint policy_settings): listed once their endpoints exist.
    SettingsSection(
        "policy_settings.groups_page",
        _l("Groups and policy"),
        _l(
            "Groups of hosts, their checks and check parameters, and each group's approved "
            "users and software."
        ),
        40,
        ("policy_settings.groups",),
    ),
    SettingsSection(
        "policy_settings.roster",
        _l("On-call roster"),
        _l("Who is alerted, in which tier, and when an alert escalates."),
        50,
    ),
    SettingsSection(
        "policy_settings.channels",
        _l("Notification channels"),
        _l("E-mail, webhook, DingTalk, WeCom and Feishu channels for alerts."),
        60,
    ),
    SettingsSection(
        "settings.retention",
        _l("Retention and sessions"),
        _l(
            "How long the operation log, evidence archives and results history are kept; when "
            "idle console sessions end."
        ),
        80,
    ),
):
    _SECTIONS[_section.endpoint] = _section


def settings_sections() -> list[SettingsSection]:
    """The sections whose pages exist in this app, in order."""
    views = current_app.view_functions
    found = [section.resolve(views) for section in _SECTIONS.values()]
    return sorted((section for section in found if section), key=lambda section: section.order)


@blueprint.app_context_processor
def _settings_helpers() -> dict[str, Any]:
    # For settings/layout.html, which the policy pages may extend too.
    return {"settings_sections": settings_sections}


# -- helpers ----------------------------------------------------------------------------------


def _actor() -> User:
    user: User = g.user
    return user


def _refused(action: str, reason: Any, target: str = "", about: str = "") -> None:
    """Log and record a refused write (the hook would record it too, but without the reason).
    A lazy (translatable) reason is written in English, whatever language the page was in."""
    with force_locale("en"):
        text = about + str(reason)
    log_refusal(400, f"{action} refused: {text}")
    record(action, outcome="refused", reason=text[:200], target=target)


def _form_int(name: str) -> int | None:
    text = request.form.get(name, "").strip()
    if not text.isdigit() or len(text) > 9:
        return None
    return int(text)


# -- landing ----------------------------------------------------------------------------------


@blueprint.get("")
@roles_required(ADMIN)
def index() -> ResponseReturnValue:
    return render_template("settings/index.html", sections=settings_sections())


# -- accounts ---------------------------------------------------------------------------------


def _accounts_page(
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
    secret: dict[str, str] | None = None,
) -> ResponseReturnValue:
    with db_session() as db:
        rows = list_accounts(db)
    return render_template(
        "settings/accounts.html",
        accounts=rows,
        roles=ROLES,
        error=error,
        notice=notice,
        secret=secret,
        max_name=MAX_NAME_LENGTH,
    ), status


@blueprint.get("/accounts")
@roles_required(ADMIN)
def accounts() -> ResponseReturnValue:
    return _accounts_page()


def _account_refusal(exc: AccountError) -> str:
    text = str(exc)
    if isinstance(exc, AccountRefused) and "own account" in text:
        return _("You cannot change or disable your own account; another admin can.")
    if isinstance(exc, AccountRefused):
        return _("The console must keep at least one active admin; nothing was changed.")
    return _("Refused: %(reason)s", reason=text)


@blueprint.post("/accounts")
@roles_required(ADMIN)
def account_create() -> ResponseReturnValue:
    action = "settings.account_create"
    name = request.form.get("name", "")[: MAX_NAME_LENGTH + 1]
    role = request.form.get("role", "")
    target = f"user:{name[:MAX_NAME_LENGTH]}"
    error: Any = None  # a lazy string: shown translated, logged in English
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable() or name != name.strip():
        error = _l(
            "A user name is 1 to %(n)d printable characters, without spaces at either end.",
            n=MAX_NAME_LENGTH,
        )
    elif role not in ROLES:
        error = _l("Choose a role.")
    if error is None:
        with db_session() as db:
            try:
                password = add_account(db, name, role)
                db.commit()
            except AccountError as exc:
                db.rollback()
                reason = str(exc)
                error = (
                    _l("A user named %(name)s already exists.", name=name)
                    if "already exists" in reason
                    else _l("Refused: %(reason)s", reason=reason)
                )
    if error is not None:
        _refused(action, error, target)
        return _accounts_page(400, error=error)
    record(action, target=target, details={"role": role})
    return _accounts_page(
        201,
        notice=_("Account %(name)s (%(role)s) created.", name=name, role=_role(role)),
        secret={"kind": "password", "user": name, "value": password},
    )


def _role(role: str) -> str:
    return value_label("role", role)


def _account_change(user_id: int, action: str, change: Any) -> ResponseReturnValue:
    """Run ``change(db, actor, user_id)`` -> (User, notice, details, secret) as one write."""
    with db_session() as db:
        actor = db.get(User, _actor().id)
        assert actor is not None  # the session was resumed for this user moments ago
        try:
            target, notice, details, secret = change(db, actor, user_id)
            name = target.name
            db.commit()
        except AccountError as exc:
            db.rollback()
            error = _account_refusal(exc)
            _refused(action, str(exc), f"user_id:{user_id}")
            return _accounts_page(400 if "no user" not in str(exc) else 404, error=error)
    record(action, target=f"user:{name}", details=details)
    return _accounts_page(200, notice=notice, secret=secret)


@blueprint.post("/accounts/<int:user_id>/role")
@roles_required(ADMIN)
def account_role(user_id: int) -> ResponseReturnValue:
    role = request.form.get("role", "")

    def change(db: Any, actor: User, uid: int) -> tuple[User, str, dict[str, Any], None]:
        before = db.get(User, uid)
        old = before.role if before is not None else ""
        target = change_role(db, actor, uid, role)
        notice = _("%(name)s is now %(role)s.", name=target.name, role=_role(role))
        return target, notice, {"role": {"from": old, "to": role}}, None

    return _account_change(user_id, "settings.account_role", change)


@blueprint.post("/accounts/<int:user_id>/disable")
@roles_required(ADMIN)
def account_disable(user_id: int) -> ResponseReturnValue:
    def change(db: Any, actor: User, uid: int) -> tuple[User, str, dict[str, Any], None]:
        target = set_disabled(db, actor, uid, True)
        notice = _(
            "%(name)s is disabled: no login, sessions ended, API tokens refused.",
            name=target.name,
        )
        return target, notice, {"disabled": True}, None

    return _account_change(user_id, "settings.account_disable", change)


@blueprint.post("/accounts/<int:user_id>/enable")
@roles_required(ADMIN)
def account_enable(user_id: int) -> ResponseReturnValue:
    def change(db: Any, actor: User, uid: int) -> tuple[User, str, dict[str, Any], None]:
        target = set_disabled(db, actor, uid, False)
        return target, _("%(name)s is enabled again.", name=target.name), {"disabled": False}, None

    return _account_change(user_id, "settings.account_enable", change)


@blueprint.post("/accounts/<int:user_id>/reset-password")
@roles_required(ADMIN)
def account_reset_password(user_id: int) -> ResponseReturnValue:
    def change(db: Any, actor: User, uid: int) -> tuple[User, str, dict[str, Any], dict[str, str]]:
        target, password = reset_password(db, uid)
        notice = _("New one-time password for %(name)s; their sessions ended.", name=target.name)
        # details name no password: only that one was issued
        secret = {"kind": "password", "user": target.name, "value": password}
        return target, notice, {"one_time_password": "issued"}, secret

    return _account_change(user_id, "settings.account_reset_password", change)


# -- enrollment tokens ------------------------------------------------------------------------


def _enrollment_page(
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
    line: str | None = None,
    windows_line: str | None = None,
) -> ResponseReturnValue:
    with db_session() as db:
        rows = list_enrollment_tokens(db)
        groups = group_names(db)
    return render_template(
        "settings/enrollment_tokens.html",
        tokens=rows,
        groups=groups,
        error=error,
        notice=notice,
        line=line,
        windows_line=windows_line,
        msi=offered_msi(current_state().paths),
        msi_name=MSI_DOWNLOAD_NAME,
        max_uses=MAX_ENROLLMENT_USES,
        form=request.form if request.method == "POST" else {},
    ), status


@blueprint.get("/enrollment-tokens")
@roles_required(ADMIN)
def enrollment_tokens() -> ResponseReturnValue:
    return _enrollment_page()


@blueprint.post("/enrollment-tokens")
@roles_required(ADMIN)
def enrollment_token_create() -> ResponseReturnValue:
    action = "settings.enrollment_token_create"
    group = request.form.get("group", "")[:64]
    uses = _form_int("uses")
    expires = request.form.get("expires", "")[:16]
    error: Any = None  # a lazy string: shown translated, logged in English
    lifetime = datetime.timedelta(0)
    if uses is None or not 1 <= uses <= MAX_ENROLLMENT_USES:
        error = _l("Uses must be a whole number from 1 to %(n)d.", n=MAX_ENROLLMENT_USES)
    else:
        try:
            lifetime = parse_lifetime(expires)
        except ValueError:
            error = _l("Expiry is a lifetime such as 30m, 24h or 7d, at most 365d.")
    if error is None:
        with db_session() as db:
            try:
                token = new_enrollment_token(db, group, uses or 0, lifetime)
                db.commit()
            except TokenError:
                db.rollback()
                error = _l("Choose an existing group.")
    if error is not None:
        _refused(action, error, f"group:{group}")
        return _enrollment_page(400, error=error)
    state = current_state()
    line = enroll_line(state.config.server_url, token, state.paths)
    windows_line = msiexec_line(state.config.server_url, token, state.paths)
    details = {"uses": uses, "expires_seconds": int(lifetime.total_seconds())}
    record(action, target=f"token:{token[:12]}", details={"group": group, **details})
    notice = _(
        "Token for group %(group)s created. Run this line on each host to enroll it; "
        "it is shown only now.",
        group=group,
    )
    return _enrollment_page(201, notice=notice, line=line, windows_line=windows_line)


@blueprint.get("/enrollment-tokens/" + MSI_DOWNLOAD_NAME)
@roles_required(ADMIN)
def enrollment_msi() -> ResponseReturnValue:
    """The agent's Windows installer, when one is in the data folder's downloads/."""
    msi = offered_msi(current_state().paths)
    if msi is None:
        return _enrollment_page(404, error=_("No Windows installer is offered."))
    return send_file(msi, mimetype="application/x-msi", as_attachment=True,
                     download_name=MSI_DOWNLOAD_NAME)  # fmt: skip


@blueprint.post("/enrollment-tokens/<int:token_id>/revoke")
@roles_required(ADMIN)
def enrollment_token_revoke(token_id: int) -> ResponseReturnValue:
    with db_session() as db:
        try:
            prefix = revoke_enrollment_token(db, token_id)
            db.commit()
        except TokenError as exc:
            _refused("settings.enrollment_token_revoke", str(exc), f"token_id:{token_id}")
            return _enrollment_page(404, error=_("No such token."))
    record("settings.enrollment_token_revoke", target=f"token:{prefix}")
    return redirect(url_for("settings.enrollment_tokens"))


# -- API tokens -------------------------------------------------------------------------------


def _api_page(
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
    token: str | None = None,
) -> ResponseReturnValue:
    with db_session() as db:
        rows = list_api_tokens(db)
        users = [row for row in list_accounts(db) if not row.disabled]
    return render_template(
        "settings/api_tokens.html",
        tokens=rows,
        users=users,
        error=error,
        notice=notice,
        token=token,
        max_name=MAX_TOKEN_NAME,
    ), status


@blueprint.get("/api-tokens")
@roles_required(ADMIN)
def api_tokens() -> ResponseReturnValue:
    return _api_page()


@blueprint.post("/api-tokens")
@roles_required(ADMIN)
def api_token_create() -> ResponseReturnValue:
    action = "settings.api_token_create"
    user_id = _form_int("user_id")
    name = request.form.get("name", "")[: MAX_TOKEN_NAME + 1]
    error: Any = None  # a lazy string: shown translated, logged in English
    token = ""
    user_name = ""
    if user_id is None:
        error = _l("Choose an active user.")
    else:
        with db_session() as db:
            try:
                owner, token = new_api_token(db, user_id, name)
                user_name, role = owner.name, owner.role
                db.commit()
            except TokenError as exc:
                db.rollback()
                error = (
                    _l("Choose an active user.")
                    if "active user" in str(exc)
                    else _l(
                        "A token's name is at most %(n)d printable characters.", n=MAX_TOKEN_NAME
                    )
                )
    if error is not None:
        _refused(action, error, f"user_id:{user_id}")
        return _api_page(400, error=error)
    record(
        action,
        target=f"token:{token[:12]}",
        details={"user": user_name, "role": role, "name": name.strip()},
    )
    notice = _(
        "API token for %(user)s (%(role)s) created. Copy it now: it is shown only once.",
        user=user_name,
        role=_role(role),
    )
    return _api_page(201, notice=notice, token=token)


@blueprint.post("/api-tokens/<int:token_id>/revoke")
@roles_required(ADMIN)
def api_token_revoke(token_id: int) -> ResponseReturnValue:
    with db_session() as db:
        try:
            prefix = revoke_api_token_by_id(db, token_id)
            db.commit()
        except TokenError as exc:
            _refused("settings.api_token_revoke", str(exc), f"token_id:{token_id}")
            return _api_page(404, error=_("No such token."))
    record("settings.api_token_revoke", target=f"token:{prefix}")
    return redirect(url_for("settings.api_tokens"))


# -- retention and sessions -------------------------------------------------------------------


def _shown(name: str, seconds_or_days: int) -> int:
    unit = RETENTION_FIELDS[name][1]
    return max(1, round(seconds_or_days / unit))


def _retention_page(
    status: int = 200, error: str | None = None, notice: str | None = None
) -> ResponseReturnValue:
    config = current_state().config
    with db_session() as db:
        effective = effective_settings(db, config)
    fields = []
    for field, (name, unit) in RETENTION_FIELDS.items():
        spec = SPECS[name]
        override = effective.overrides.get(name)
        fields.append(
            {
                "field": field,
                "setting": name,
                "value": _shown(field, getattr(effective, name)),
                "config_value": _shown(field, getattr(config, name)),
                "low": max(1, -(-spec.low // unit)),
                "high": spec.high // unit,
                "changed_by": override[2] if override else None,
                "changed_at": override[1] if override else None,
            }
        )
    return render_template(
        "settings/retention.html", fields=fields, error=error, notice=notice
    ), status


@blueprint.get("/retention")
@roles_required(ADMIN)
def retention() -> ResponseReturnValue:
    return _retention_page()


def _retention_problem(field: str, value: int | None) -> Any:
    name, unit = RETENTION_FIELDS[field]
    spec = SPECS[name]
    low, high = max(1, -(-spec.low // unit)), spec.high // unit
    if field == "oplog_retention_days":
        if value is not None and value < low:
            return _l(
                "The operation log must be kept at least %(days)d days (POLICY.md E12). "
                "Nothing was changed.",
                days=low,
            )
        if value is None or value > high:
            return _l(
                "Operation log retention is a whole number of days from %(low)d to %(high)d. "
                "Nothing was changed.",
                low=low,
                high=high,
            )
        return None
    if field == "results_retention_days":
        if value is not None and value < low:
            return _l(
                "Results and their history must be kept at least %(days)d days: the weekly "
                "reports are made from them, and national law asks that logs be kept six "
                "months (POLICY.md E12, A4). Nothing was changed.",
                days=low,
            )
        if value is None or value > high:
            return _l(
                "Results retention is a whole number of days from %(low)d to %(high)d. "
                "Nothing was changed.",
                low=low,
                high=high,
            )
        return None
    if field == "evidence_retention_days":
        if value is None or not low <= value <= high:
            return _l(
                "Evidence retention is a whole number of days from %(low)d to %(high)d. "
                "Nothing was changed.",
                low=low,
                high=high,
            )
        return None
    if value is None or not low <= value <= high:
        return _l(
            "Session idle time is a whole number of minutes from %(low)d to %(high)d. "
            "Nothing was changed.",
            low=low,
            high=high,
        )
    return None


@blueprint.post("/retention")
@roles_required(ADMIN)
def retention_save() -> ResponseReturnValue:
    action = "settings.retention_save"
    config = current_state().config
    submitted = {field: _form_int(field) for field in RETENTION_FIELDS}
    for field, value in submitted.items():
        problem = _retention_problem(field, value)
        if problem is not None:
            raw = request.form.get(field, "")[:20]
            target = f"setting:{RETENTION_FIELDS[field][0]}"
            _refused(action, problem, target, about=f"{field}={raw!r}: ")
            return _retention_page(400, error=problem)
    changes: dict[str, dict[str, int]] = {}
    with db_session() as db:
        effective = effective_settings(db, config)
        try:
            for field, value in submitted.items():
                name, unit = RETENTION_FIELDS[field]
                current = getattr(effective, name)
                # Only what the person changed: an unchanged field keeps its source (config.json).
                if value is None or value == _shown(field, current):
                    continue
                set_setting(db, name, value * unit, _actor().name)
                changes[name] = {"from": current, "to": value * unit}
            db.commit()
        except SettingError as exc:  # the rule itself, in case the page's bounds drift from it
            db.rollback()
            _refused(action, str(exc), "settings:retention")
            return _retention_page(400, error=_("Refused: %(reason)s", reason=str(exc)))
    if not changes:
        return _retention_page(200, notice=_("Nothing to change."))
    record(action, target="settings:" + ",".join(sorted(changes)), details=changes)
    return _retention_page(200, notice=_("Saved. Every server process uses the new values now."))


@blueprint.post("/retention/<setting>/reset")
@roles_required(ADMIN)
def retention_reset(setting: str) -> ResponseReturnValue:
    if setting not in SPECS:
        _refused("settings.retention_reset", "unknown setting", f"setting:{setting[:64]}")
        return _retention_page(404, error=_("No such setting."))
    with db_session() as db:
        removed = reset_setting(db, setting)
        db.commit()
    if removed:
        record("settings.retention_reset", target=f"setting:{setting}")
    return _retention_page(200, notice=_("The value from config.json applies again."))
