"""The weekly report's REST query (``GET /api/v1/reports/weekly``, server/reports/api.py) and
its answers; docs/architecture.md, "Bodies and validation"."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta

from server.reports.formats import CONTENT_TYPES, FORMATS
from xunjian.core.schema import Body

WEEK_PATTERN = r"^[0-9]{4}-W[0-9]{2}$"


class ReportQuery(Body):
    """``week`` defaults to the last complete week; an empty ``week=`` is refused."""

    week: Annotated[str, Meta(pattern=WEEK_PATTERN, description="YYYY-Www")] | None = None
    format: Literal[FORMATS] = "json"  # type: ignore[valid-type]
    # CSV and XLSX come in this language (default: console_language in config.json).
    lang: Literal["zh", "en"] | None = None


# The answer in each format: the JSON report, or a file (CSV, XLSX).
REPORT_ANSWERS: dict[str, Any] = {
    CONTENT_TYPES["json"]: dict[str, Any],
    CONTENT_TYPES["csv"]: None,
    CONTENT_TYPES["xlsx"]: None,
}
