"""The host firewall: the kernel's rule set when live, the firewall's configuration in a tree.

Inbound is "denied by default" when any input base chain drops what no rule accepts: a packet
must pass every base chain on the input hook, so one chain with policy drop (or ending in an
unconditional drop or reject) is enough.
"""

from __future__ import annotations

import json
import re
from typing import Any

from checks.collectors.linux.units import unit_enabled
from checks.errors import CollectError, NoPrivilege, NotApplicable
from checks.facts import Firewall
from checks.host import HostContext

UFW_CONF = "/etc/ufw/ufw.conf"
UFW_DEFAULTS = "/etc/default/ufw"
FIREWALLD_CONF = "/etc/firewalld/firewalld.conf"
FIREWALLD_ZONE_DIRS = ("/etc/firewalld/zones", "/usr/lib/firewalld/zones")
NFTABLES_CONF = "/etc/nftables.conf"
IPTABLES_RULES = ("/etc/iptables/rules.v4", "/etc/sysconfig/iptables")
_DENY = {"drop", "reject"}
_PERMISSION_WORDS = ("operation not permitted", "permission denied")


def _settings(text: str) -> dict[str, str]:
    values = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip("\"'")
    return values


def _expression_kind(expression: dict[str, Any]) -> str:
    kind = next(iter(expression))
    target = expression.get("xt")
    # iptables-nft writes -j REJECT as an xtables target expression, not a native reject.
    if kind == "xt" and isinstance(target, dict) and target.get("type") == "target":
        return str(target.get("name", "")).lower()
    return kind


def _is_final_verdict(expressions: list[Any]) -> str | None:
    """ "drop"/"reject" when a rule is nothing but (counter and) that verdict."""
    kinds = [_expression_kind(e) for e in expressions if isinstance(e, dict) and e]
    verdicts = [k for k in kinds if k in _DENY]
    if verdicts and set(kinds) <= _DENY | {"counter", "log"}:
        return verdicts[0]
    return None


def inbound_from_nft_json(document: dict[str, Any]) -> tuple[str | None, dict[str, str]]:
    chains: dict[tuple[str, str, str], str] = {}
    last_rule: dict[tuple[str, str, str], list[Any]] = {}
    for item in document.get("nftables", []):
        chain = item.get("chain")
        if (
            chain
            and chain.get("hook") == "input"
            and chain.get("type", "filter") == "filter"
            and chain.get("family") in {"ip", "ip6", "inet"}
        ):
            key = (chain["family"], chain["table"], chain["name"])
            chains[key] = str(chain.get("policy", "accept"))
        rule = item.get("rule")
        if rule:
            last_rule[(rule["family"], rule["table"], rule["chain"])] = rule.get("expr", [])
    details = {}
    verdict: str | None = None
    for key, policy in sorted(chains.items()):
        effective = policy if policy in _DENY else _is_final_verdict(last_rule.get(key, []))
        details["/".join(key)] = effective or policy
        if effective in _DENY:
            verdict = verdict or effective
    if not chains:
        return None, details
    return verdict or "accept", details


def inbound_from_iptables_save(text: str) -> str | None:
    policy: str | None = None
    last_input_rule = ""
    in_filter = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("*"):
            in_filter = line == "*filter"
        elif in_filter and line.startswith(":INPUT "):
            policy = line.split()[1].lower()
        elif in_filter and line.startswith("-A INPUT "):
            last_input_rule = line
    if policy is None:
        return None
    if policy in _DENY:
        return policy
    final = re.fullmatch(r"-A INPUT -j (DROP|REJECT)(?: --reject-with \S+)?", last_input_rule)
    return final.group(1).lower() if final else "accept"


def inbound_from_nft_text(text: str) -> str | None:
    """nftables.conf as nft -f loads it: the policy of input filter chains."""
    uncommented = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    found = None
    for match in re.finditer(r"type\s+filter\s+hook\s+input\b[^;]*;([^}]*)", uncommented):
        policy = re.search(r"policy\s+(accept|drop)\s*;", match.group(1))
        value = policy.group(1) if policy else "accept"
        if value == "drop":
            return "drop"
        found = value
    return found


def _ufw(host: HostContext) -> str | None:
    conf = _settings(host.read_optional(UFW_CONF) or "")
    if conf.get("ENABLED", "no").lower() != "yes":
        return None
    defaults = _settings(host.read_optional(UFW_DEFAULTS) or "")
    return defaults.get("DEFAULT_INPUT_POLICY", "DROP").lower()


def _firewalld(host: HostContext) -> str | None:
    if not unit_enabled(host, "firewalld.service"):
        return None
    zone = _settings(host.read_optional(FIREWALLD_CONF) or "").get("DefaultZone", "public")
    for folder in FIREWALLD_ZONE_DIRS:
        text = host.read_optional(f"{folder}/{zone}.xml")
        if text is not None:
            target = re.search(r"<zone[^>]*\btarget=\"([^\"]+)\"", text)
            value = target.group(1).upper() if target else "default"
            # firewalld's "default" target rejects what the zone does not allow.
            return {"ACCEPT": "accept", "DROP": "drop"}.get(value, "reject")
    return "reject"


def _from_configuration(host: HostContext) -> Firewall:
    backends: list[str] = []
    verdicts: list[str] = []
    details: dict[str, str] = {}
    for name, verdict in (("ufw", _ufw(host)), ("firewalld", _firewalld(host))):
        if verdict is not None:
            backends.append(name)
            verdicts.append(verdict)
            details[name] = verdict
    if unit_enabled(host, "nftables.service"):
        verdict = inbound_from_nft_text(host.read_optional(NFTABLES_CONF) or "")
        backends.append("nftables")
        details["nftables"] = verdict or "no input chain"
        if verdict:
            verdicts.append(verdict)
    if unit_enabled(host, "netfilter-persistent.service") or unit_enabled(host, "iptables.service"):
        for path in IPTABLES_RULES:
            text = host.read_optional(path)
            if text is not None:
                verdict = inbound_from_iptables_save(text)
                backends.append("iptables")
                details["iptables"] = verdict or "no filter table"
                if verdict:
                    verdicts.append(verdict)
                break
    deny = next((v for v in verdicts if v in _DENY), None)
    return Firewall(
        backends=tuple(backends),
        default_inbound=deny or (verdicts[0] if verdicts else None),
        source="configuration",
        details=details,
    )


def _check_permission(stderr: str, what: str) -> None:
    if any(word in stderr.lower() for word in _PERMISSION_WORDS):
        raise NoPrivilege(f"{what} needs root to read the kernel's firewall rules")


def _nft_inbound(host: HostContext) -> tuple[str | None, dict[str, str]]:
    result = host.run(["nft", "-j", "list", "ruleset"], why="reading the firewall rules")
    _check_permission(result.stderr, "nft list ruleset")
    if result.returncode != 0:
        raise CollectError(f"nft list ruleset exited {result.returncode}: {result.stderr}")
    try:
        document = json.loads(result.stdout or '{"nftables": []}')
    except json.JSONDecodeError as exc:
        raise CollectError(f"nft printed something that is not JSON: {exc}") from exc
    return inbound_from_nft_json(document)


def _iptables_inbound(host: HostContext, program: str = "iptables-save") -> str | None:
    result = host.run([program], why="reading the firewall rules")
    _check_permission(result.stderr, program)
    if result.returncode != 0:
        raise CollectError(f"{program} exited {result.returncode}: {result.stderr}")
    return inbound_from_iptables_save(result.stdout)


def _from_kernel(host: HostContext) -> Firewall:
    configured = _from_configuration(host)
    # ufw and firewalld load their rules into the kernel; name them when they are enabled.
    names = [b for b in configured.backends if b in {"ufw", "firewalld"}]
    try:
        verdict, details = _nft_inbound(host)
        backend = "nftables"
    except NotApplicable:
        try:
            verdict, details, backend = _iptables_inbound(host), {}, "iptables"
        except NotApplicable:
            # Neither nft nor iptables-save: no tool could have loaded a rule, which is the
            # same state a tree without firewall configuration shows, and fails the same way.
            return Firewall(tuple(names), None, "kernel", {"tools": "neither nft nor iptables"})
    if verdict is None:
        # Rules loaded through iptables-legacy live outside nftables, where neither nft nor
        # the nft flavour of iptables-save sees them.
        try:
            legacy = _iptables_inbound(host, "iptables-legacy-save")
        except NotApplicable:
            legacy = None
        if legacy is not None:
            verdict, details, backend = legacy, {}, "iptables-legacy"
    backends = [*names, backend] if verdict is not None else names
    return Firewall(tuple(backends), verdict, "kernel", details)


def collect_firewall(host: HostContext) -> Firewall:
    # A tree's kernel is not this machine's: read only what its configuration loads at boot.
    if host.is_tree or host.runner is None:
        return _from_configuration(host)
    return _from_kernel(host)
