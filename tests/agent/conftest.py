"""The agent tests' server: a real HTTPS server on 127.0.0.1 with a throwaway CA, answering as
the scripted API (tests/agent/agent_testkit.py). tests/msi uses the same fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.agent_testkit import LoopbackServer, ScriptedApi, ThrowawayCA, make_ca


@pytest.fixture(scope="module")
def ca() -> ThrowawayCA:
    # One per module: making a CA and its server certificate is the slow part.
    return make_ca()


@pytest.fixture
def api(ca: ThrowawayCA) -> ScriptedApi:
    return ScriptedApi(ca.cert_pem)


@pytest.fixture
def server(ca: ThrowawayCA, api: ScriptedApi, tmp_path: Path) -> Iterator[LoopbackServer]:
    running = LoopbackServer(ca, tmp_path, route=api).start()
    yield running
    running.stop()
