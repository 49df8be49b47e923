"""docs/checks.md is generated from the registry and must match it."""

from __future__ import annotations

import subprocess
import sys

from checks.docs import render
from checks.registry import REGISTRY
from tests.checks.scan_helpers import REPO

DOCS = REPO / "docs" / "checks.md"


def test_docs_are_up_to_date_with_the_registry() -> None:
    assert DOCS.read_text(encoding="utf-8") == render(), (
        "docs/checks.md is out of date: run `python -m checks.docs > docs/checks.md`"
    )


def test_module_prints_the_same_as_render() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "checks.docs"], capture_output=True, cwd=REPO, check=True
    )
    assert completed.stdout.decode("utf-8") == render()


def test_every_check_is_documented_with_both_languages() -> None:
    text = render()
    for spec in REGISTRY.values():
        section = text.split(f"## `{spec.id}`", 1)[1].split("\n## ", 1)[0]
        for piece in (spec.title_en, spec.title_zh, spec.remediation_en, spec.remediation_zh):
            assert piece in section, (spec.id, piece)
        for rule in spec.rules:
            assert f"`{rule}`" in section
        for param in spec.params:
            assert f"`{param.name}`" in section
