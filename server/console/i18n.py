"""Console languages with Flask-Babel: zh_CN and en, chosen from the browser and switchable.

Texts are English msgids (``_("Open alerts")`` in templates and Python); each feature package
that shows console text keeps its Chinese catalog beside its code, in
``<package>/translations/zh/LC_MESSAGES/messages.po`` (+ the compiled ``.mo``). The folder is
``zh``, not ``zh_CN``: Babel spells the negotiated locale zh_Hans_CN, whose gettext fallbacks
are zh_Hans_CN and zh only. Flask-Babel
merges the catalogs of every such folder, so features never edit one shared catalog.

Which language a request gets: the person's choice (the switch in the header, kept in the
session) > the browser's ``Accept-Language`` > ``console_language`` from config.json.

Maintenance, run from the repository root::

    python -m server.console.i18n update server/alerts   # add new msgids to its catalog
    python -m server.console.i18n compile                # every .po -> .mo
    python -m server.console.i18n check                  # what tests/server/test_i18n.py runs

``update`` keeps the translations already written; new msgids arrive with an empty msgstr,
which ``check`` reports until someone writes the Chinese.
"""

from __future__ import annotations

import datetime
import io
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

SERVER_ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
CATALOG_LOCALE = "zh"  # English is the msgid itself: only Chinese needs a catalog
MISPLACED_LOCALE = "zh_CN"  # a catalog written here is moved to CATALOG_LOCALE by update
SESSION_KEY = "lang"
# Every extracted keyword: Flask-Babel's gettext family and the lazy variants.
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "lazy_gettext": None,
    "_l": None,
    "pgettext": ((1, "c"), 2),
}
METHOD_MAP = [
    ("**/translations/**", "ignore"),
    ("**/templates/**.html", "jinja2.ext:babel_extract"),
    ("**.py", "python"),
]
OPTIONS_MAP = {"**/templates/**.html": {"trimmed": "true"}}


def locale_for_language(language: str) -> str:
    """config.json says "zh" or "en"; Babel wants a locale."""
    return "zh_CN" if language.startswith("zh") else "en"


# --- catalogs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """A package with console text and its own catalog."""

    root: Path

    @property
    def po(self) -> Path:
        return self.root / "translations" / CATALOG_LOCALE / "LC_MESSAGES" / "messages.po"

    @property
    def mo(self) -> Path:
        return self.po.with_suffix(".mo")

    @property
    def name(self) -> str:
        return str(self.root.relative_to(SERVER_ROOT.parent))


def parts() -> list[Part]:
    """Every package under server/ that has a translations folder."""
    found = {path.parent for path in SERVER_ROOT.rglob("translations") if path.is_dir()}
    return [Part(root) for root in sorted(found)]


def translation_directories() -> list[str]:
    return [str(part.root / "translations") for part in parts()]


def extract(part_root: Path) -> Catalog:
    """The msgids the package's Python files and templates use."""
    catalog = Catalog(locale=CATALOG_LOCALE, project="xunjian")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(part_root),
        method_map=METHOD_MAP,
        options_map=OPTIONS_MAP,
        keywords=KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=CATALOG_LOCALE)


def update(part_root: Path) -> Path:
    """Merge the package's current msgids into its catalog, keeping written translations."""
    part = Part(part_root.resolve())
    misplaced = part.root / "translations" / MISPLACED_LOCALE / "LC_MESSAGES" / "messages.po"
    if misplaced.exists() and not part.po.exists():
        part.po.parent.mkdir(parents=True, exist_ok=True)
        misplaced.rename(part.po)
    template = extract(part.root)
    if part.po.exists():
        catalog = read_catalog(part.po)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()  # msgids no longer used: gone, not kept as comments
    else:
        catalog = template
        part.po.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, omit_header=False, sort_output=True)
    part.po.write_bytes(buffer.getvalue())
    return part.po


def compile_part(part: Part) -> None:
    catalog = read_catalog(part.po)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    part.mo.write_bytes(buffer.getvalue())


def _translations(catalog: Catalog) -> dict[Any, Any]:
    return {
        (message.context, message.id): message.string
        for message in catalog
        if message.id and message.string and not message.fuzzy
    }


def problems() -> Iterator[str]:
    """What ``check`` reports: untranslated msgids, stale compiled catalogs, and one English
    msgid translated differently by two packages (Flask-Babel merges the catalogs and the
    last one loaded wins everywhere, so a word would change meaning on another package's
    page; give the two meanings different English, e.g. "HTTP status" and "Status")."""
    chinese: dict[str, dict[str, list[str]]] = {}
    for part in parts():
        if part.po.exists():
            for message in read_catalog(part.po):
                if isinstance(message.id, str) and message.id and message.string:
                    texts = chinese.setdefault(message.id, {})
                    texts.setdefault(str(message.string), []).append(part.name)
    for msgid, texts in sorted(chinese.items()):
        if len(texts) > 1:
            where = "; ".join(f"{text!r} in {', '.join(names)}" for text, names in texts.items())
            yield f"{msgid!r} has different Chinese: {where}"
    for part in parts():
        if not part.po.exists():
            yield f"{part.name}: no {part.po.relative_to(part.root)}"
            continue
        catalog = read_catalog(part.po)
        used = {(message.context, message.id) for message in extract(part.root) if message.id}
        written = _translations(catalog)
        for context, msgid in sorted(used, key=str):
            if (context, msgid) not in written:
                yield f"{part.name}: no Chinese for {msgid!r} (run update, then write it)"
        if not part.mo.exists():
            yield f"{part.name}: messages.mo missing (run compile)"
            continue
        with part.mo.open("rb") as handle:
            compiled = _translations(read_mo(handle))
        if compiled != written:
            yield f"{part.name}: messages.mo is older than messages.po (run compile)"


# --- the Flask side -----------------------------------------------------------------------


def select_locale() -> str:
    from flask import request, session

    chosen = session.get(SESSION_KEY)
    if chosen in LOCALES:
        return str(chosen)
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best is not None:
        return locale_for_language(best)
    from server.state import current_state

    return locale_for_language(current_state().config.console_language)


def current_language() -> str:
    """ "zh" or "en": the key of the bilingual texts the check registry carries."""
    from flask_babel import get_locale

    locale = get_locale()
    return "zh" if locale is not None and locale.language == "zh" else "en"


def bilingual(text: Any) -> str:
    """Pick the current language from a {"zh": ..., "en": ...} text (check titles)."""
    if isinstance(text, dict):
        value = text.get(current_language()) or text.get("en") or text.get("zh") or ""
        return str(value)
    return "" if text is None else str(text)


def localtime(moment: datetime.datetime | str | None, with_seconds: bool = False) -> str:
    """A stored time (naive UTC, or its ISO text) in the console's time zone, as
    2026-11-23 18:05 (the footer of every page names the zone)."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        try:
            moment = datetime.datetime.fromisoformat(moment)
        except ValueError:
            return moment
    from server.config import local_time
    from server.state import current_state

    return local_time(moment, current_state().config.console_timezone, seconds=with_seconds)


def result_sentence(result: Any) -> str:
    """A result's sentence in the page's language when the agent sent its id and parameters
    (checks/messages.py), else the agent's English ``message``."""
    from checks.messages import render

    message_id = result.get("message_id") if isinstance(result, dict) else None
    params = result.get("params") if isinstance(result, dict) else None
    if isinstance(message_id, str) and message_id:
        said = render(message_id, params if isinstance(params, dict) else {}, current_language())
        if said is not None:
            return said
    return str(result.get("message", "")) if isinstance(result, dict) else ""


def console_zone_label() -> str:
    """``Asia/Shanghai (UTC+08:00)``: the zone every time on the page is in."""
    from server.config import zone_label
    from server.state import current_state

    return zone_label(current_state().config.console_timezone)


def init_i18n(app: Any, default_language: str) -> None:
    from flask_babel import Babel

    app.config["BABEL_DEFAULT_LOCALE"] = locale_for_language(default_language)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(translation_directories())
    Babel(app, locale_selector=select_locale)
    app.add_template_filter(localtime, "localtime")
    app.add_template_global(bilingual, "bilingual")
    app.add_template_global(current_language, "current_language")
    app.add_template_global(console_zone_label, "console_zone_label")
    app.add_template_global(result_sentence, "result_sentence")


# --- command line -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if not words or words[0] not in {"update", "compile", "check"}:
        print(__doc__)
        return 2
    command, rest = words[0], words[1:]
    if command == "update":
        if not rest:
            print("usage: python -m server.console.i18n update PACKAGE_DIR [...]")
            return 2
        for folder in rest:
            print(f"updated {update(Path(folder))}")
        return 0
    if command == "compile":
        for part in parts():
            compile_part(part)
            print(f"compiled {part.mo.relative_to(SERVER_ROOT.parent)}")
        return 0
    found = list(problems())
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
