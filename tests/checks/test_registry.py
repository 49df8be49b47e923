"""The registry's metadata: validated at load, complete for every check, JSON for the server."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

import checks
from checks.api import registry_catalog
from checks.errors import RegistryError
from checks.facts import FactName
from checks.params import ParamSpec
from checks.policy_tags import POLICY_TAGS
from checks.registry import REGISTRY, CheckSpec, validate

GOOD = REGISTRY["accounts.uid0_extra"]


@pytest.mark.parametrize("check_id", sorted(REGISTRY))
def test_every_check_has_texts_tags_and_severity(check_id: str) -> None:
    spec = REGISTRY[check_id]
    for text in (spec.title_zh, spec.title_en, spec.remediation_zh, spec.remediation_en):
        assert len(text.strip()) >= 8
    assert spec.rules and set(spec.rules) <= POLICY_TAGS
    assert spec.platforms and set(spec.platforms) <= {"linux", "windows"}
    assert spec.facts


def test_policy_tags_are_the_policy_documents() -> None:
    assert {"P1", "P2", "E1", "E18", "I1", "I2", "A1", "A4"} <= POLICY_TAGS
    assert len(POLICY_TAGS) == 2 + 18 + 2 + 4
    assert "E19" not in POLICY_TAGS and "E0" not in POLICY_TAGS


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"id": "Accounts-UID0"}, "id must look like category.name"),
        ({"id": "files.uid0_extra"}, "must start with its category"),
        ({"title_zh": "No UID 0"}, "title_zh must be written in Chinese"),
        ({"remediation_en": "删除账户"}, "remediation_en must be written in English"),
        ({"remediation_zh": "  "}, "remediation_zh is empty"),
        ({"rules": ("E19",)}, "not POLICY.md tags"),
        ({"rules": ()}, "at least one POLICY.md tag"),
        ({"platforms": ("solaris",)}, "platforms"),
        ({"platforms": ("linux", "windows")}, "no windows collector for facts ['users']"),
        ({"facts": ("users",)}, "facts must name"),
        ({"category": "misc"}, "category 'misc'"),
        ({"params": (ParamSpec("max_days", "int", "90", "天数", "days"),)}, "is not a int"),
        ({"params": (ParamSpec("port", "float", 1.0, "端口", "port"),)}, "type 'float'"),
        ({"params": (ParamSpec("Ports", "list[int]", (22,), "端口", "ports"),)}, "lower_case"),
        ({"params": (ParamSpec("n", "int", 0, "数", "n", minimum=1),)}, "at least 1"),
        ({"params": (ParamSpec("n", "int", 1, "", "n"),)}, "description in zh and en"),
    ],
)
def test_bad_metadata_is_refused_with_a_clear_message(
    change: dict[str, object], complaint: str
) -> None:
    bad = dataclasses.replace(GOOD, **change)  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match="invalid check registry") as raised:
        validate((bad,))
    assert complaint in str(raised.value)


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(RegistryError, match="declared twice"):
        validate((GOOD, GOOD))


def test_a_bad_entry_is_an_import_error(tmp_path: Path) -> None:
    # Load the real registry module with one entry broken: importing it must fail loudly.
    source = Path(checks.__file__).parent.joinpath("registry.py").read_text(encoding="utf-8")
    broken = source.replace('rules=("E8", "E16"),', 'rules=("E8", "X9"),', 1)
    assert broken != source
    script = (
        "import sys, types, checks\n"
        "module = types.ModuleType('checks.registry')\n"
        "sys.modules['checks.registry'] = module\n"
        f"exec(compile({broken!r}, 'registry.py', 'exec'), module.__dict__)\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert completed.returncode != 0
    assert "RegistryError" in completed.stderr
    assert "accounts.uid0_extra" in completed.stderr and "X9" in completed.stderr


def test_catalog_is_json_with_every_check_and_its_defaults() -> None:
    catalog = json.loads(json.dumps(registry_catalog(), ensure_ascii=False))
    assert [entry["id"] for entry in catalog] == list(REGISTRY)
    listening = next(entry for entry in catalog if entry["id"] == "services.listening")
    assert listening["params"]["approved_tcp_ports"]["default"] == [22]
    assert listening["params"]["approved_tcp_ports"]["type"] == "list[int]"
    assert listening["params"]["include_loopback"]["default"] is False
    assert set(listening["title"]) == {"zh", "en"} == set(listening["remediation"])
    assert listening["rules"] == ["E3", "E18"]
    for entry in catalog:
        assert set(entry) == {
            "id",
            "title",
            "remediation",
            "severity",
            "category",
            "platforms",
            "rules",
            "facts",
            "params",
        }
        assert all(fact in set(FactName) for fact in entry["facts"])


def test_spec_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        GOOD.id = "x.y"  # type: ignore[misc]
    assert isinstance(GOOD, CheckSpec)


def test_checks_package_imports_only_the_standard_library() -> None:
    script = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import checks.api, checks.cli, checks.docs\n"
        "stdlib = sys.stdlib_module_names\n"
        "foreign = sorted({m.split('.')[0] for m in set(sys.modules) - before}"
        " - set(stdlib) - {'checks'})\n"
        "print(','.join(foreign))\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == ""
