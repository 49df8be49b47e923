"""Issue 13 item 5: result sentences as ids with parameters (checks/messages.py)."""

from __future__ import annotations

import pytest

from checks.messages import MESSAGES, WORDS, placeholders, render, say
from checks.model import Status


@pytest.mark.parametrize("message_id", sorted(MESSAGES))
def test_both_languages_take_the_same_parameters(message_id: str) -> None:
    english, chinese = MESSAGES[message_id]
    assert placeholders(english) == placeholders(chinese), message_id
    assert chinese != english  # written in Chinese, not copied


def test_say_keeps_the_english_and_carries_the_id_and_parameters() -> None:
    finding = say(
        Status.PASS, "host", "firewall.active", {"a": 1}, backends="nftables", policy="drop"
    )
    assert finding.message == (
        "the host firewall (nftables) is active and drops inbound traffic that no rule allows"
    )
    assert (finding.message_id, finding.params) == (
        "firewall.active",
        {"backends": "nftables", "policy": "drop"},
    )
    assert render("firewall.active", finding.params, "zh") == (
        "主机防火墙（nftables）已启用，并丢弃所有未被规则允许的入站流量"
    )
    assert render("firewall.active", finding.params, "en") == finding.message
    assert {"drop", "reject"} <= set(WORDS)


def test_an_unknown_id_or_missing_parameters_render_nothing() -> None:
    assert render("no.such.message", {}, "zh") is None
    assert render("firewall.active", {"backends": "nftables"}, "zh") is None


def _findings_without_a_known_id() -> list[str]:
    """Every pass and fail a check judges over its fact-table cases (tests/checks/test_library.py:
    each check has a passing and a failing case, Linux and Windows): the ones whose sentence has
    no id checks/messages.py knows, or whose parameters do not fill both languages."""
    from checks.engine import run_check
    from checks.factset import FactSource
    from checks.registry import REGISTRY
    from tests.checks.test_library import CASES

    missing = []
    for check_id, cases in CASES.items():
        spec = REGISTRY[check_id]
        for case in cases:
            source = FactSource.from_values(case.facts)
            results = run_check(spec, source, spec.platforms[0], case.params)
            for result in results:
                if result.status not in {Status.PASS, Status.FAIL} and not result.message_id:
                    # An error's text from outside the library (an exception) has no id; one
                    # said by id is held to the table like a judgement.
                    continue
                where = f"{check_id}:{case.name}: {result.message!r}"
                if result.message_id not in MESSAGES:
                    missing.append(f"{where} has no known message id ({result.message_id!r})")
                    continue
                params = dict(result.params or {})
                zh = render(result.message_id, params, "zh")
                en = render(result.message_id, params, "en")
                if zh is None or en is None:
                    missing.append(f"{where}: parameters {params} do not fill both languages")
                elif en != result.message:
                    missing.append(f"{where}: the English rendered is {en!r}")
    return missing


def test_every_check_says_its_results_by_a_known_message_id() -> None:
    """Issue 13 item 5: a new sentence written as plain text (no id) fails here, so every result
    reaches the reader in their language."""
    assert _findings_without_a_known_id() == []


def test_the_engine_and_collectors_say_their_own_sentences_by_id() -> None:
    """A check for another platform, and a fact that does not exist here, reach the reader in
    their language too: the engine's result and a collector's NotApplicable carry the id."""
    from checks.engine import run_check
    from checks.errors import NotApplicable
    from checks.facts import FactName
    from checks.factset import FactSource
    from checks.messages import said
    from checks.registry import REGISTRY

    [elsewhere] = run_check(
        REGISTRY["services.windows_smb1"], FactSource.from_values({}), "linux", {}
    )
    assert (elsewhere.status, elsewhere.message_id) == (
        Status.NOT_APPLICABLE,
        "engine.other_platform",
    )
    assert (
        render(elsewhere.message_id, elsewhere.params, "zh")
        == "此检查适用于 windows；本机运行的是 linux"
    )

    missing = said(NotApplicable, "facts.no_sshd", path="/etc/ssh/sshd_config")
    assert str(missing) == "the OpenSSH server is not installed (no /etc/ssh/sshd_config)"
    source = FactSource.from_values({FactName.SSHD_CONFIG: missing})
    [result] = run_check(REGISTRY["ssh.root_login"], source, "linux", {})
    assert (result.status, result.message) == (Status.NOT_APPLICABLE, str(missing))
    assert (
        render(result.message_id, result.params, "zh")
        == "未安装 OpenSSH 服务端（没有 /etc/ssh/sshd_config）"
    )
