"""The weekly report's readable CSV as tests read it: a zip with one table per file (server/
reports/readable.py), each UTF-8 with a byte order mark."""

from __future__ import annotations

import io
import zipfile


def csv_tables(data: bytes) -> dict[str, str]:
    """Each table's file name and text."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode("utf-8-sig") for name in archive.namelist()}


def csv_text(data: bytes) -> str:
    """Every table's text, one after the other (for "is it anywhere in the report")."""
    return "\n".join(csv_tables(data).values())
