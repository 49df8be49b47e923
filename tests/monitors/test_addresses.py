"""Where a page monitor may fetch from (server-side request forgery; docs/monitors.md): the
server's own monitors and an agent's refuse loopback, link-local, metadata and unspecified
addresses and odd IPv4 spellings, by the address the name resolves to and on every redirect,
unless an admin allows the network (``monitor_allowed_networks``); metadata never.

These tests run the server with its default settings (nothing allowed), unlike the other
monitor tests, whose loopback sites are allowed in config.json (tests/monitors/conftest.py)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from agent.monitors.collector import collect
from agent.monitors.spec import MonitorSpec
from agent.state import AgentConfig, StateError
from server.config import ConfigError, ServerConfig
from server.monitors.record import probe_monitor
from tests.monitors.helpers import LOOPBACK
from tests.monitors.site import Site
from tests.server.conftest import Server
from tests.server.test_api import api_token, bearer
from xunjian.core.probe import AddressPolicy, UrlError, check_url, fetch


@pytest.fixture
def server_settings() -> dict[str, Any]:
    return {}  # as `server init` writes it: no network allowed


@pytest.fixture
def other_loopback_site(site: Site) -> Iterator[Site]:
    """A second site on 127.0.0.2 (Linux answers on all of 127/8), on the first one's port,
    so a connection that goes to the wrong address finds a page there instead of nothing."""
    running = Site()
    running.server.shutdown()
    running.server.server_close()
    handler = running.server.RequestHandlerClass
    running.server = ThreadingHTTPServer(("127.0.0.2", site.port), handler)
    running.server.daemon_threads = True
    threading.Thread(target=running.server.serve_forever, daemon=True).start()
    running.serve("/", "<html>secret inside</html>")
    yield running
    running.close()


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("127.0.0.1", "loopback"),
        ("127.5.6.7", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("0.0.0.0", "not a host's address"),
        ("::", "not a host's address"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.0.1", "private"),
        ("100.64.0.1", "private or reserved"),
        ("224.0.0.1", "not a host's address"),
        ("255.255.255.255", "not a host's address"),
    ],
)
def test_the_default_refuses_what_is_not_a_public_address(address: str, words: str) -> None:
    problem = AddressPolicy().problem(address)
    assert problem is not None and words in problem, problem


def test_allowed_networks_open_only_themselves_and_never_metadata() -> None:
    policy = AddressPolicy.allowing(["10.0.0.0/8", "169.254.0.0/16", "127.0.0.1"])
    assert policy.problem("10.200.1.1") is None
    assert policy.problem("127.0.0.1") is None
    assert policy.problem("127.0.0.2") is not None
    assert policy.problem("192.168.1.1") is not None
    assert policy.problem("169.254.1.1") is None
    assert "metadata" in (policy.problem("169.254.169.254") or "")
    assert AddressPolicy().problem("203.0.113.9") is not None  # documentation: not global
    assert AddressPolicy().problem("8.8.8.8") is None
    assert AddressPolicy().problem("2001:4860:4860::8888") is None


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0x7f.0.0.1/",
        "http://127.1/",
        "http://017700000001/",
        "http://127.000.000.001/",
    ],
)
def test_odd_ipv4_spellings_are_refused(url: str) -> None:
    with pytest.raises(UrlError, match="dotted quad"):
        check_url(url)


def test_names_and_dotted_quads_still_pass_the_syntax_check() -> None:
    for url in ("http://127.0.0.1/", "http://school.edu.cn/", "http://cafe.be/", "http://1.2.3.4/"):
        assert check_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/",
        "http://[::1]:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://0.0.0.0:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://2130706433:{port}/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:{port}/",
    ],
)
def test_the_api_refuses_a_monitor_on_a_refused_address(
    server: Server, site: Site, url: str
) -> None:
    token = api_token(server)
    body = {"url": url.format(port=site.port)}
    answer = server.client().post("/api/v1/monitors", json=body, headers=bearer(token))
    assert answer.status_code == 400, answer.get_data(as_text=True)
    listing = server.client().get("/api/v1/monitors", headers=bearer(token)).get_json()
    assert listing["total"] == 0
    assert site.hits == 0


def test_a_name_for_loopback_is_refused_when_fetched_and_nothing_is_read_back(
    server: Server, site: Site
) -> None:
    """``localhost`` is a name: accepted as a URL, refused by the address it resolves to, at
    the baseline fetch and at every check. The page is never fetched, so there is nothing to
    read back through the baseline."""
    token = api_token(server)
    client = server.client()
    url = f"http://localhost:{site.port}/"
    created = client.post("/api/v1/monitors", json={"url": url}, headers=bearer(token))
    assert created.status_code == 201, created.get_data(as_text=True)
    monitor_id = created.get_json()["id"]
    assert created.get_json()["baseline"] is None
    result = probe_monitor(
        server.state.engine, monitor_id, (), addresses=server.state.config.monitor_addresses
    )
    assert result is not None and not result.ok
    assert site.hits == 0
    detail = client.get(f"/api/v1/monitors/{monitor_id}", headers=bearer(token)).get_json()
    assert "loopback" in str(detail), detail
    baseline = client.get(f"/api/v1/monitors/{monitor_id}/baseline", headers=bearer(token))
    assert "Hello" not in baseline.get_data(as_text=True)
    assert site.hits == 0


def test_a_redirect_to_a_refused_address_is_not_followed(
    site: Site, other_loopback_site: Site
) -> None:
    """127.0.0.1 allowed, 127.0.0.2 not: the site's redirect there is refused."""
    site.serve(
        "/go", b"", status=302, location=other_loopback_site.url().replace("127.0.0.1", "127.0.0.2")
    )
    only_first = AddressPolicy.allowing(["127.0.0.1/32"])
    fetched = fetch(site.url("/go"), timeout=5, addresses=only_first)
    assert fetched.status is None and "refused" in fetched.error and "127.0.0.2" in fetched.error
    assert other_loopback_site.hits == 0
    # Allowed as well, the same redirect is followed: the refusal was the address's.
    both = AddressPolicy.allowing(["127.0.0.1/32", "127.0.0.2/32"])
    followed = fetch(site.url("/go"), timeout=5, addresses=both)
    assert followed.status == 200 and b"secret inside" in followed.body


def test_every_address_of_a_name_is_checked(site: Site) -> None:
    """``localhost`` resolves to 127.0.0.1 and ::1 on most machines: with only 127.0.0.1
    allowed, the name is refused (a name is not half trusted)."""
    answers = socket.getaddrinfo("localhost", site.port, type=socket.SOCK_STREAM)
    if {answer[4][0] for answer in answers} == {"127.0.0.1"}:
        pytest.skip("localhost resolves to 127.0.0.1 only on this machine")
    url = f"http://localhost:{site.port}/"
    refused = fetch(url, timeout=5, addresses=AddressPolicy.allowing(["127.0.0.1/32"]))
    assert refused.status is None and "::1" in refused.error
    assert site.hits == 0


def test_the_connection_goes_to_the_checked_address_not_a_rebound_one(
    site: Site, other_loopback_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a name answers an allowed address when checked and another when the
    connection is made. Here a resolver stands in for such a DNS server (none can run in a
    test): ``rebind.test`` is 127.0.0.1 at the first lookup and 127.0.0.2 at every later
    one. The fetch resolves once and connects to what it checked."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        return real("127.0.0.1" if len(lookups) == 1 else "127.0.0.2", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    only_first = AddressPolicy.allowing(["127.0.0.1/32"])
    fetched = fetch(f"http://rebind.test:{site.port}/", timeout=5, addresses=only_first)
    assert fetched.status == 200, fetched.error
    assert (site.hits, other_loopback_site.hits, len(lookups)) == (1, 0, 1)


def test_an_agents_monitor_refuses_by_its_own_agent_json(site: Site) -> None:
    spec = MonitorSpec(1, site.url(), 60, 5, True, 5)
    fetched, _ = collect(spec, AddressPolicy())
    assert fetched.status is None and "loopback" in fetched.error
    assert site.hits == 0
    fetched, _ = collect(spec, LOOPBACK)
    assert fetched.status == 200 and site.hits == 1


def test_bad_allowed_networks_are_refused_in_both_configs() -> None:
    with pytest.raises(ConfigError, match="monitor_allowed_networks"):
        ServerConfig.from_mapping({"database_url": "x", "monitor_allowed_networks": ["10.0.0/x"]})
    with pytest.raises(ConfigError, match="monitor_allowed_networks"):
        ServerConfig.from_mapping({"database_url": "x", "monitor_allowed_networks": "10.0.0.0/8"})
    base = {
        "server_url": "https://s",
        "agent_id": "a",
        "group": "g",
        "ca_sha256": "c",
        "enrolled_at": "t",
    }
    with pytest.raises(StateError, match="monitor_allowed_networks"):
        AgentConfig.from_dict({**base, "monitor_allowed_networks": ["nonsense"]})
    config = AgentConfig.from_dict({**base, "monitor_allowed_networks": ["10.0.0.0/8"]})
    assert config.monitor_allowed_networks == ["10.0.0.0/8"]
