"""The streaming XLSX writer (server/reports/xlsx.py): what openpyxl reads back is what was
written, text that XML cannot carry is replaced rather than breaking the file, and the package
parts are where readers look for them."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import load_workbook

from server.reports.xlsx import MAX_CELL_TEXT, Workbook, column_letters


def test_column_letters() -> None:
    assert [column_letters(n) for n in (0, 25, 26, 27, 701, 702)] == [
        "A",
        "Z",
        "AA",
        "AB",
        "ZZ",
        "AAA",
    ]


def test_written_values_read_back() -> None:
    out = io.BytesIO()
    rows = [
        ["plain", 7, 2.5, True, None, "教室 电脑"],
        ["  leading and trailing  ", -1, 0, False, "", '<tag> & "quotes"'],
        ["bell\x07 and nul\x00", 10**12, 1e-5, None, "x" * (MAX_CELL_TEXT + 10), "line\nbreak"],
    ]
    with Workbook(out, ["First", "Second", "Empty"]) as book:
        book.write_rows(["a", "b", "c", "d", "e", "f"], rows)
        book.write_rows(["only"], [["one"]])
    archive = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    assert archive.namelist()[0] == "[Content_Types].xml"
    book = load_workbook(io.BytesIO(out.getvalue()), read_only=True)
    assert book.sheetnames == ["First", "Second", "Empty"]
    read = list(book["First"].iter_rows(values_only=True))
    assert read[0] == ("a", "b", "c", "d", "e", "f")
    assert read[1] == ("plain", 7, 2.5, True, None, "教室 电脑")
    assert read[2] == ("  leading and trailing  ", -1, 0, False, None, '<tag> & "quotes"')
    assert read[3][0] == "bell\ufffd and nul\ufffd"
    assert read[3][1:3] == (10**12, 1e-5)
    assert len(read[3][4]) == MAX_CELL_TEXT and read[3][4].endswith("…")
    assert read[3][5] == "line\nbreak"
    assert list(book["Second"].iter_rows(values_only=True)) == [("only",), ("one",)]
    book.close()


def test_sheet_names_are_checked() -> None:
    with pytest.raises(ValueError):
        Workbook(io.BytesIO(), ["a", "a"])
    with pytest.raises(ValueError):
        Workbook(io.BytesIO(), ["bad/name"])
