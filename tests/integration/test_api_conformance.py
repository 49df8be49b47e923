"""Schemathesis over the whole generated API document against a live server (issue 10): with an
admin and an auditor token on the REST routes, and unsigned and badly signed on the agent
routes, no answer is a 5xx and every answer (status, content type, body) is one the document
describes. Bounded: a few examples per operation, derandomized so a run can be repeated, no
shrinking (the first failing example of each operation is reported as found).

Generated bodies never reach beyond loopback: a monitor's url, a site's start_url and a
device's address are pointed at a closed local port before the request is sent (the server
fetches a new monitor's page at once, crawls a site asked for at once, and checks devices over
SSH)."""

from __future__ import annotations

import datetime
import http.cookiejar
import traceback
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.harness import ServerUnderTest, free_port, run_cli

pytestmark = pytest.mark.integration

# Per operation: EXAMPLES valid requests with each credential, and EXAMPLES invalid ones with
# the first (a route with no parameter or body has no invalid request to make).
EXAMPLES = 5
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
# The operations are dealt round-robin to this many tests, each with a server of its own, so
# pytest-xdist's workers share the work (one test over the whole document took 75-115 s on one
# worker while the other had finished; docs/PERFORMANCE.md, "Test suite").
SHARDS = 4
# The document held 37 operations when the test was sharded; fewer means routes went missing
# from it (tests/core/test_schema.py checks that each route is documented).
MIN_OPERATIONS = 37


def _api_token(server: ServerUnderTest, user: str) -> str:
    done = run_cli("server", "apitoken", "create", "--data", str(server.data), "--user", user)
    return done.stdout.strip().splitlines()[-1].split()[-1]


def _credentials(server: ServerUnderTest) -> dict[str, dict[str, dict[str, str]]]:
    """Per kind of route (its security scheme), the header sets each example is sent with."""
    run_cli("server", "user", "add", "audrey", "--role", "auditor", "--data", str(server.data))
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "bearerToken": {
            "admin": {"Authorization": f"Bearer {_api_token(server, 'admin')}"},
            "auditor": {"Authorization": f"Bearer {_api_token(server, 'audrey')}"},
        },
        "agentSignature": {
            "unsigned": {},
            "badly signed": {
                "X-Xunjian-Agent": str(uuid.uuid4()),
                "X-Xunjian-Time": stamp,
                "X-Xunjian-Signature": "AAAA" * 22,
            },
        },
        "none": {"anonymous": {}},
    }


def _scheme(operation: Any) -> str:
    security = operation.definition.raw.get("security") or [{}]
    names = list(security[0])
    return names[0] if names else "none"


def _keep_local(case: Any, closed_port: int) -> None:
    if isinstance(case.body, dict):
        if isinstance(case.body.get("url"), str):
            case.body["url"] = f"http://127.0.0.1:{closed_port}/"
        if isinstance(case.body.get("start_url"), str):  # a site the crawler thread may crawl
            case.body["start_url"] = f"http://127.0.0.1:{closed_port}/"
        if isinstance(case.body.get("address"), str):
            case.body["address"] = "127.0.0.1"
        if isinstance(case.body.get("port"), int) and "address" in case.body:
            case.body["port"] = closed_port


def _exercise(
    operation: Any,
    mode: Any,
    headers: dict[str, str],
    base_url: str,
    session: requests.Session,
    ca_file: str,
) -> None:
    closed_port = free_port()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        _keep_local(case, closed_port)
        case.call_and_validate(
            base_url=base_url,
            session=session,
            headers=headers,
            checks=CHECKS,
            verify=ca_file,
            timeout=60,
        )

    run()


@pytest.mark.parametrize("shard", range(SHARDS), ids=lambda shard: f"shard{shard + 1}of{SHARDS}")
def test_every_operation_answers_as_documented(
    server: ServerUnderTest, tmp_path: Path, shard: int
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(server.ca_pem)
    document = requests.get(
        f"{server.url}/api/v1/openapi.json", verify=str(ca_file), timeout=30
    ).json()
    schema = schemathesis.openapi.from_dict(document)
    credentials = _credentials(server)
    # One session for every request: without it each request builds a new TLS context and
    # loads the system's CA bundle (88 ms of CPU each under load, 44 of the test's 79 s of CPU,
    # measured with cProfile), and makes a new TLS handshake.
    session = requests.Session()
    # No cookie is carried from one example to the next: each is judged on its own headers.
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    failures: list[str] = []
    exercised = 0
    operations = [result.ok() for result in schema.get_all_operations()]
    # The whole document is dealt out, and every shard has work: a route added to the API is
    # exercised by exactly one of them.
    assert len(operations) >= MIN_OPERATIONS, len(operations)
    for operation in operations[shard::SHARDS]:
        takes_input = bool({"parameters", "requestBody"} & set(operation.definition.raw))
        for index, (who, headers) in enumerate(credentials[_scheme(operation)].items()):
            for mode in MODES:
                if mode is schemathesis.GenerationMode.NEGATIVE and (index or not takes_input):
                    continue
                exercised += 1
                try:
                    _exercise(operation, mode, headers, server.url, session, str(ca_file))
                except (Exception, BaseExceptionGroup) as error:  # every finding is collected
                    lines = traceback.format_exception_only(type(error), error)
                    failures.append(f"{operation.label} as {who} ({mode.value}): {''.join(lines)}")
    # Every operation is exercised at least once with each credential of its kind.
    assert exercised >= len(operations[shard::SHARDS])
    assert not failures, "\n\n".join(failures)
