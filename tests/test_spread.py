"""tests/conftest.py ``spread_for_workers``: the order that gives every pytest-xdist worker its
share of the real-process tests at the head of its first queue."""

from __future__ import annotations

from dataclasses import dataclass

from tests.conftest import spread_for_workers


@dataclass(frozen=True)
class Item:
    nodeid: str


def _shares(ordered: list[Item], workers: int) -> list[list[Item]]:
    """What pytest-xdist's worksteal scheduler hands each worker first."""
    shares, left = [], list(ordered)
    for number in range(workers):
        size = len(left) // (workers - number)
        shares.append(left[:size])
        left = left[size:]
    return shares


def test_each_worker_starts_with_real_process_tests_and_the_turn_takers_share_one() -> None:
    deploy = [Item(f"tests/deploy/test_e2e.py::test_{n}") for n in range(3)]
    real = [Item(f"tests/integration/test_spine.py::test_{n}") for n in range(10)]
    short = [Item(f"tests/server/test_api.py::test_{n}") for n in range(500)]
    ordered = spread_for_workers([*real[:4], *deploy, *real[4:]], short, 4)
    assert sorted(ordered, key=lambda item: item.nodeid) == sorted(
        [*deploy, *real, *short], key=lambda item: item.nodeid
    )
    shares = _shares(ordered, 4)
    assert shares[0][:3] == deploy
    assert shares[0][3].nodeid.startswith("tests/server/")
    for share in shares[1:]:
        heads = [item for item in share if item in real]
        assert len(heads) in (3, 4)
        assert share[: len(heads)] == heads  # at the head, where nothing is stolen first
    assert [item for item in ordered if item in short] == short  # order kept


def test_fewer_tests_than_workers_loses_nothing() -> None:
    real = [Item("tests/integration/test_spine.py::test_a")]
    short = [Item("tests/core/test_contract.py::test_b")]
    ordered = spread_for_workers(real, short, 4)
    assert sorted(item.nodeid for item in ordered) == sorted(
        item.nodeid for item in [*real, *short]
    )
