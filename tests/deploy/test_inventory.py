"""The inventory is validated strictly, before any host is touched, and every error names the
file and the host entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from xunjian.deploy.inventory import InventoryError, load_inventory, parse_inventory

ENV = "XJ_TEST_INVENTORY_PASSWORD"


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "deploy_key"
    path.write_text("not parsed here\n")
    return path


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(ENV, "s3cret-value")
    return ENV


def parse(text: str, tmp_path: Path) -> list:
    return list(parse_inventory(text, tmp_path / "hosts.toml").hosts)


def error(text: str, tmp_path: Path) -> str:
    with pytest.raises(InventoryError) as caught:
        parse(text, tmp_path)
    return str(caught.value)


def test_defaults_and_hosts(tmp_path: Path, key_file: Path, password: str) -> None:
    hosts = parse(
        f"""
[defaults]
user = "admin"
key = "{key_file}"
sudo = true
group = "lab-301"

[agent]
start_delay_max_seconds = 30

[[host]]
address = "10.20.1.21"
name = "pc-21"

[[host]]
address = "pc22.school.example"
port = 2222
password_env = "{password}"
group = "office"
[host.agent]
scan_interval_seconds = 600

[[host]]
address = "10.20.1.23"
user = "root"
""",
        tmp_path,
    )
    first, second, third = hosts
    assert (first.address, first.port, first.user, first.key, first.sudo, first.group) == (
        "10.20.1.21",
        22,
        "admin",
        key_file,
        True,
        "lab-301",
    )
    assert first.label == "pc-21 (10.20.1.21)"
    assert first.known_hosts_name == "10.20.1.21"
    assert dict(first.agent) == {"start_delay_max_seconds": 30}
    # A host's own password_env replaces the default key.
    assert (second.key, second.password_env, second.group) == (None, ENV, "office")
    assert second.password() == "s3cret-value"
    assert second.known_hosts_name == "[pc22.school.example]:2222"
    assert dict(second.agent) == {"start_delay_max_seconds": 30, "scan_interval_seconds": 600}
    assert (third.user, third.sudo) == ("root", False)


def test_relative_key_is_beside_the_inventory(tmp_path: Path, key_file: Path) -> None:
    (host,) = parse('[[host]]\naddress = "10.0.0.1"\nuser = "a"\nkey = "deploy_key"\n', tmp_path)
    assert host.key == key_file


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("prot = 22\n", "host #1 (10.0.0.9): unknown key 'prot'"),
        ("port = 0\n", "host #1 (10.0.0.9): port must be a whole number 1..65535, not 0"),
        ("port = 70000\n", "port must be a whole number 1..65535"),
        ('port = "22"\n', "port must be a whole number 1..65535, not '22'"),
        ("port = true\n", "port must be a whole number"),
        ("sudo = 1\n", "sudo must be true or false"),
        ('group = "lab 301"\n', "group must be 1..64 letters"),
        ('password_env = "XJ_TEST_UNSET_VARIABLE"\n', "both"),
        ("[host.agent]\nscan_every = 5\n", "agent.scan_every is not an agent setting"),
        ('[host.agent]\nagent_id = "x"\n', "agent.agent_id is not an agent setting"),
        ("[host.agent]\nstart_delay_max_seconds = -1\n", "start_delay_max_seconds must be"),
        # Host isolation: only with release too, and only commands the agent knows.
        ('[host.agent]\nallowed_commands = ["isolate"]\n', "with isolate must allow release"),
        ('[host.agent]\nallowed_commands = ["isolate_host"]\n', "allowed_commands: unknown"),
    ],
)
def test_host_errors_name_the_entry(
    tmp_path: Path, key_file: Path, body: str, expected: str
) -> None:
    text = f'[[host]]\naddress = "10.0.0.9"\nuser = "admin"\nkey = "{key_file}"\n{body}'
    message = error(text, tmp_path)
    assert str(tmp_path / "hosts.toml") in message
    if expected == "both":
        assert "host #1 (10.0.0.9): give either key or password_env, not both" in message
    else:
        assert expected in message


def test_missing_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XJ_TEST_UNSET_VARIABLE", raising=False)
    message = error(
        '[defaults]\nuser = "a"\n'
        '[[host]]\naddress = "10.0.0.1"\npassword_env = "PATH"\n'
        '[[host]]\naddress = "10.0.0.2"\npassword_env = "XJ_TEST_UNSET_VARIABLE"\n',
        tmp_path,
    )
    assert "host #2 (10.0.0.2): password_env names the environment variable" in message
    assert "XJ_TEST_UNSET_VARIABLE, which is not set" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "no hosts"),
        ("[[host]]\nuser = 'a'\npassword_env = 'PATH'\n", "host #1: address is required"),
        ("[[host]]\naddress = 'bad host!'\nuser = 'a'\n", "is not an IP address or a host name"),
        ("[[host]]\naddress = '10.0.0.1'\npassword_env = 'PATH'\n", "user is required"),
        ("[[host]]\naddress = '10.0.0.1'\nuser = 'a'\n", "give key (a private key file)"),
        ("[[host]]\naddress = '10.0.0.1'\nuser = 'a'\nkey = '/nonexistent/k'\n", "cannot read"),
        ("hosts = []\n", "top level: unknown key 'hosts'"),
        ("[defaults]\naddress = '1.2.3.4'\n", "[defaults]: unknown key 'address'"),
        ("[agent]\nspool_max_rows = 0\n", "[agent]: agent settings"),
        ("[[host]]\naddress = '10.0.0.1'\n[[host\n", "not valid TOML"),
        (
            "[defaults]\nuser = 'a'\npassword_env = 'PATH'\n"
            "[[host]]\naddress = '10.0.0.1'\n[[host]]\naddress = '10.0.0.1'\nport = 22\n",
            "host #2 (10.0.0.1): the same address and port as host #1",
        ),
    ],
)
def test_file_errors(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error(text, tmp_path)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="cannot read the inventory"):
        load_inventory(tmp_path / "missing.toml")
    (tmp_path / "latin1.toml").write_bytes(b"# \xe9\n")
    with pytest.raises(InventoryError, match="not UTF-8"):
        load_inventory(tmp_path / "latin1.toml")


def test_configure_keeps_the_pinned_command_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``xunjian deploy ssh`` rewrites agent.json from the inventory's settings; the server's
    command key that enrollment pinned is identity, not a setting: it stays, and the inventory
    cannot set it."""
    import io
    import json
    import sys

    from xunjian.deploy.host import main

    key = "A" * 43 + "="
    identity = {
        "server_url": "https://10.0.0.5:8443",
        "agent_id": "a",
        "group": "lab",
        "ca_sha256": "0" * 64,
        "enrolled_at": "2026-12-07T08:00:00Z",
        "server_command_key": key,
    }
    state = tmp_path / "state"
    state.mkdir()
    (state / "agent.json").write_text(json.dumps(identity))

    def configure(settings: dict[str, object]) -> int:
        stdin = io.TextIOWrapper(io.BytesIO(json.dumps(settings).encode()))
        monkeypatch.setattr(sys, "stdin", stdin)
        return main(["configure", "--state", str(state)])

    assert configure({"allowed_commands": ["scan_now", "isolate", "release"]}) == 0
    written = json.loads((state / "agent.json").read_text())
    assert written["server_command_key"] == key
    assert written["allowed_commands"] == ["scan_now", "isolate", "release"]
    assert configure({"server_command_key": "B" * 43 + "="}) == 1
    assert json.loads((state / "agent.json").read_text())["server_command_key"] == key
