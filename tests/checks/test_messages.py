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
    assert set(WORDS) == {"drop", "reject"}


def test_an_unknown_id_or_missing_parameters_render_nothing() -> None:
    assert render("no.such.message", {}, "zh") is None
    assert render("firewall.active", {"backends": "nftables"}, "zh") is None
