"""Facts only the running Windows knows (WMI/CIM, COM), asked through Windows PowerShell.

Why PowerShell and not pywin32's COM: it ships with every Windows 10/11 and Server, its
``ConvertTo-Json`` gives the APIs' own field names and types, and the agent's one command
runner (checks/runner.py) already bounds its time and output; a slow WMI provider is stopped at
the timeout instead of hanging the scan. Tests replace the runner with recordings in the same
JSON (tests/windows/recordings/, README there says where each shape comes from).

The output is forced to UTF-8 (a Chinese Windows console writes code page 936 otherwise, and
"360杀毒" would arrive garbled).
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from checks.errors import CollectError, CommandUnavailable, NotApplicable
from checks.host import HostContext
from checks.messages import said

POWERSHELL = "powershell.exe"
DEFAULT_TIMEOUT_SECONDS = 30.0
_PRELUDE = (
    "$ErrorActionPreference = 'Stop'; [Console]::OutputEncoding = [System.Text.Encoding]::UTF8; "
)
# Windows PowerShell 5.1's ConvertTo-Json writes a DateTime as "\/Date(<ms since 1970>)\/".
_MS_DATE = re.compile(r"^/Date\((-?\d+)\)/$")
_UNIX_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
# What WMI says when the class or namespace is not there (Defender removed, Server without
# Security Center): the fact's absence, not a failure.
_ABSENT = ("invalid namespace", "invalid class", "0x8004100e", "0x80041010")


class Absent(NotApplicable):
    """The WMI namespace or class does not exist on this Windows."""


def run_json(host: HostContext, script: str, why: str, timeout: float | None = None) -> Any:
    """The JSON a PowerShell script prints (None when it prints nothing). Absent when WMI says
    the namespace or class does not exist; NotApplicable under --root or without PowerShell."""
    runner = host.require_commands(POWERSHELL, why)
    argv = [POWERSHELL, "-NoProfile", "-NonInteractive", "-Command", _PRELUDE + script]
    try:
        done = runner.run(argv, timeout=timeout or DEFAULT_TIMEOUT_SECONDS)
    except CommandUnavailable as error:
        raise said(NotApplicable, "facts.command_missing", why=why, program=POWERSHELL) from error
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[0] if done.stderr.strip() else "no message"
        if any(word in done.stderr.lower() for word in _ABSENT):
            raise Absent(f"{why}: not on this Windows ({message})")
        raise CollectError(f"{why} failed (exit {done.returncode}): {message}")
    if done.truncated:
        raise CollectError(f"{why}: the answer was longer than the agent reads")
    text = done.stdout.strip().lstrip("\ufeff")
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CollectError(f"{why}: the answer is not JSON ({error})") from None


def records(answer: Any) -> list[dict[str, Any]]:
    """ConvertTo-Json prints one object bare, several as a list, none as nothing."""
    if answer is None:
        return []
    if isinstance(answer, dict):
        return [answer]
    if isinstance(answer, list):
        return [item for item in answer if isinstance(item, dict)]
    raise CollectError(f"expected JSON objects, got {type(answer).__name__}")


def json_datetime(value: object) -> datetime.datetime | None:
    """A DateTime as ConvertTo-Json writes it: ``/Date(ms)/`` (Windows PowerShell 5.1) or ISO
    8601 (PowerShell 7); None for null, empty, or Windows' "never" (year 1600/1601)."""
    if not isinstance(value, str) or not value:
        return None
    match = _MS_DATE.match(value)
    if match:
        # Not fromtimestamp: Windows' C library refuses times before 1970, and "never" is 1601.
        moment = _UNIX_EPOCH + datetime.timedelta(milliseconds=int(match[1]))
    else:
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
    return None if moment.year <= 1601 else moment.astimezone(datetime.UTC)
