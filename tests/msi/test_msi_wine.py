"""The MSI under wine (Debian's wine 8, 64-bit only): a silent install with the enrollment
properties, the service registered and started by wine's service manager, the agent enrolling
with a real xunjian server on loopback and delivering a report, then the uninstall
(docs/windows-deploy.md, "Proof under wine").

What wine stands in for, and what it cannot:
- wine 8 has no bcryptprimitives.dll (ProcessPrng, which every Rust-built extension such as
  cryptography's needs; wine 9 has it): the test builds a ten-line stand-in with mingw-w64
  that forwards to RtlGenRandom, and puts it in the prefix. Windows has the real one.
- wine keeps no Windows ACLs on files (the agent logs that and goes on; on Windows an ACL
  that does not read back stops the service), and has no delayed auto-start (the install
  logs that and keeps plain auto-start).
- wine keeps a service alive only while some ordinary wine process runs: the test keeps a
  ``cmd`` open for the whole test.
- Collectors: the live ones wine implements run for real from the installed service: winreg
  over wine's own registry (the Windows version wine reports), NetUserEnum (level 20 only:
  the current user) and NetUserModalsGet level 2 (the machine SID) where the SAM cannot be
  saved, NetLocalGroupGetMembers (wine puts the current user in every group), psutil's
  listening sockets. What wine lacks stays not_applicable, named below: WMI (Defender,
  Security Center), Windows Update, NetUserModalsGet levels 0 and 3 (the password policy),
  logon times. No check may say error; the report must come from platform "windows".

Slow: about 2 minutes (a wine prefix, an install of 2,500 files, a Python start under wine,
the agent's random first-run delay of up to a minute).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import ServerUnderTest, option_value, wait_for
from tests.msi.conftest import require_tool
from xunjian.msi import wxs

pytestmark = pytest.mark.integration

SHIM_SOURCE = r"""
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk; length -= chunk;
    }
    return TRUE;
}
"""
MINGW = "x86_64-w64-mingw32-gcc"


class Wine:
    """One wine prefix; ``run`` runs a Windows program with no console input."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.env = {**os.environ, "WINEPREFIX": str(prefix), "WINEDEBUG": "-all",
                    "WINEARCH": "win64", "WINEDLLOVERRIDES": "mscoree,mshtml="}  # fmt: skip
        self.keeper: subprocess.Popen[bytes] | None = None

    def run(self, *words: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["wine", *words], env=self.env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, errors="replace",
                              timeout=timeout, check=False)  # fmt: skip

    def drive_c(self, windows_path: str) -> Path:
        return self.prefix / "drive_c" / windows_path.replace("\\", "/")

    def keep_alive(self) -> None:
        # A cmd reading a pipe we never write: wine ends services when no ordinary process runs.
        self.keeper = subprocess.Popen(
            ["wine", "cmd"], env=self.env, stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def close(self) -> None:
        if self.keeper is not None and self.keeper.stdin is not None:
            self.keeper.stdin.close()
            self.keeper.wait(30)
        subprocess.run(["wineserver", "-k"], env=self.env, check=False, timeout=60)


@pytest.fixture
def wine(tmp_path: Path) -> Iterator[Wine]:
    require_tool("wine")
    require_tool("wineserver")
    if not any(Path(d, MINGW).exists() for d in os.environ["PATH"].split(os.pathsep)):
        pytest.fail(f"{MINGW} is missing: apt-get install gcc-mingw-w64-x86-64-win32")
    under_test = Wine(tmp_path / "prefix")
    boot = subprocess.run(["wineboot", "--init"], env=under_test.env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert boot.returncode == 0, boot.stderr[-2000:]
    source = tmp_path / "bcryptprimitives.c"
    source.write_text(SHIM_SOURCE)
    shim = under_test.drive_c("windows/system32/bcryptprimitives.dll")
    subprocess.run([MINGW, "-shared", "-O2", "-o", str(shim), str(source), "-ladvapi32"],
                   check=True, timeout=120)  # fmt: skip
    under_test.keep_alive()
    try:
        yield under_test
    finally:
        under_test.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerUnderTest]:
    under_test = ServerUnderTest(tmp_path / "server")
    under_test.init()
    under_test.start()
    try:
        yield under_test
    finally:
        under_test.stop()


def reg_values(wine: Wine, key: str) -> dict[str, str]:
    """A registry key's values as wine's ``reg query`` prints them: value name -> data."""
    out = wine.run("reg", "query", key, timeout=60).stdout
    return {m[1]: m[3].strip() for m in re.finditer(r"^\s+(\S+)\s+(REG_\w+)\s+(.*)$", out, re.M)}


def service_config(wine: Wine) -> dict[str, str]:
    """The service's registry key (wine 8's sc.exe has no ``qc``)."""
    return reg_values(wine, r"HKLM\SYSTEM\CurrentControlSet\Services\xunjian-agent")


def wine_current_version(wine: Wine) -> dict[str, str]:
    """What wine's registry says of the Windows it pretends to be."""
    return reg_values(wine, r"HKLM\Software\Microsoft\Windows NT\CurrentVersion")


def stored(server: ServerUnderTest, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(server.data / "xunjian.sqlite3") as db:
        return db.execute(query).fetchall()


def agent_rss_kib() -> int | None:
    """Resident memory of the service's python.exe (wine runs it as a Linux process)."""
    out = subprocess.run(["ps", "-eo", "rss,args"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "python.exe" in line and "agent.windows" in line and "install" not in line:
            return int(line.split()[0])
    return None


def test_the_msi_installs_under_wine_enrolls_reports_and_uninstalls(
    built_msi: Path, wine: Wine, server: ServerUnderTest
) -> None:
    words = server.create_token(uses=1)
    token = option_value(words, "--token")
    started = time.monotonic()
    installed = wine.run("msiexec", "/i", str(built_msi), "/qn",
                         f"SERVERURL={server.url}", f"TOKEN={token}",
                         f"CASHA256={option_value(words, '--ca-sha256')}")  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    install_seconds = time.monotonic() - started

    # Registered as the MSI says, with the right command line (quoted by the install action:
    # wine's msiexec writes it unquoted).
    config = service_config(wine)
    assert config["ImagePath"].lower() == (
        '"c:\\program files\\xunjian\\agent\\python\\python.exe" -b -m agent.windows'
    ), config
    assert int(config["Start"], 0) == 2  # SERVICE_AUTO_START
    assert int(config["Type"], 0) == 0x10  # SERVICE_WIN32_OWN_PROCESS
    assert config["ObjectName"] == "LocalSystem"
    assert "running" in wine.run("sc", "query", "xunjian-agent", timeout=60).stdout.lower()

    # It starts, enrolls with the installer's properties and forgets the token.
    state = wine.drive_c("ProgramData/xunjian/agent")
    wait_for("the agent's identity", lambda: (state / "agent.json").exists(), timeout=120)
    wait_for("the staged token to go",
             lambda: not (state / "install-enrollment.json").exists(), timeout=60)  # fmt: skip
    for path in state.iterdir():
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path
    (agent_id, platform), *_ = stored(server, "SELECT id, platform FROM agents")
    assert platform == "windows"

    # And delivers a report (a new agent's first scan runs at once).
    wait_for("a report from the agent under wine",
             lambda: stored(server, "SELECT count(*) FROM reports")[0][0] > 0,
             timeout=240, interval=2)  # fmt: skip
    rows = stored(server, "SELECT check_id, resource, status, message, evidence "
                          "FROM latest_results")  # fmt: skip
    results = {row[0]: row[2] for row in rows}
    windows_checks = {k: v for k, v in results.items() if "windows" in k}
    assert windows_checks, results
    # One error, named: wine's registry has no Windows Firewall settings at all (no
    # SharedAccess FirewallPolicy keys), which the check reports as it would on a Windows
    # without them. Nothing else may say error.
    errors = {(r[0], r[3]) for r in rows if r[2] == "error"}
    assert errors <= {("firewall.windows_profiles", "no firewall profile setting was found")}, (
        errors
    )
    judged = {v for k, v in windows_checks.items() if k != "firewall.windows_profiles"}
    assert judged <= {"pass", "fail", "not_applicable", "no_privilege"}, windows_checks
    by_check = {}
    for check_id, resource, status, message, evidence in rows:
        by_check.setdefault(check_id, []).append(
            (resource, status, message, json.loads(evidence) if isinstance(evidence, str)
             else evidence)
        )  # fmt: skip
    print("\n".join(f"{k}: {v}" for k, v in sorted(by_check.items()) if "windows" in k))
    # The Windows version wine's registry reports, read live through winreg.
    build = wine_current_version(wine)
    ((_, status, _, evidence),) = by_check["patch.windows_supported"]
    assert evidence["build"].split(".")[0] == build["CurrentBuild"], (evidence, build)
    assert evidence["product"] == build["ProductName"], (evidence, build)
    # Local accounts through the Net API (wine has no SAM to save): the current user, whom
    # wine's NetLocalGroupGetMembers puts in Administrators; no Guest.
    user = getpass.getuser()
    assert [(r, s) for r, s, _, _ in by_check["accounts.windows_administrators"]] == [
        (f"user:{user}", "fail")
    ], by_check["accounts.windows_administrators"]
    assert by_check["accounts.windows_guest"][0][:2] == ("host", "pass")
    # What wine does not implement is not_applicable, and says why.
    not_applicable = {
        "password.windows_policy": "NetUserModalsGet level 0",  # policy: levels 0, 3
        "accounts.windows_unused": "level 20",  # no logon times from NetUserEnum level 20
        "accounts.weak_password": "no HKEY_LOCAL_MACHINE\\SAM",  # NT hashes: the SAM only
    }
    # Windows Update: the scan either ran before the agent's first search finished (not
    # applicable, "search"), or after it: wine's powershell.exe is a stub that prints nothing
    # and exits 0, which the agent cannot tell from "no pending updates" (docs/windows.md).
    pending = by_check["patch.updates_pending"]
    assert all(
        (status == "not_applicable" and "search" in message)
        or (status == "pass" and evidence.get("count") == 0)
        for _, status, message, evidence in pending
    ), pending
    for check_id, reason in not_applicable.items():
        statuses = {s for _, s, _, _ in by_check[check_id]}
        messages = " ".join(m for _, _, m, _ in by_check[check_id])
        assert statuses <= {"not_applicable", "no_privilege"}, (check_id, by_check[check_id])
        assert reason in messages, (check_id, messages)
    # No WMI, hence no Defender or Security Center: judged as no antivirus, which is true.
    ((_, status, message, _),) = by_check["antivirus.windows_protection"]
    assert (status, message) == (
        "fail",
        "no working antivirus: Microsoft Defender is not installed",
    )
    # Listening ports through psutil: judged, not error (the agent under wine listens on none
    # of its own; whatever the test machine has open is wine's view of the host's sockets).
    assert {s for _, s, _, _ in by_check["services.windows_listening"]} <= {"pass", "fail"}
    rss = agent_rss_kib()
    print(f"\ninstall {install_seconds:.0f}s; agent {agent_id}; {len(results)} results "
          f"({sorted(set(results.values()))}); RSS (wine): {rss} KiB")  # fmt: skip
    log_text = (state / "agent.log").read_text(encoding="utf-8", errors="replace")
    assert "enrolling with" in log_text and token not in log_text

    # Uninstall: service and program files gone, the state folder kept (no REMOVESTATE=1).
    removed = wine.run("msiexec", "/x", "{" + wxs.product_code("0.1.0") + "}", "/qn")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert "ImagePath" not in service_config(wine)
    # The service process is still exiting when RemoveFiles runs (it reported STOPPED first),
    # so the runtime files it has loaded are in use, and wine's msi leaves them (it registers
    # no PendingFileRenameOperations; Windows would ask for a reboot). Everything else goes.
    root = wine.drive_c("Program Files/xunjian")
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    # Loaded binaries, and python311.zip, which zipimport keeps open.
    assert all(p.lower().endswith((".exe", ".dll", ".pyd", ".zip")) for p in left), left
    assert not any(wine.drive_c("Program Files/xunjian/agent/python/Lib").rglob("*.py"))
    print(f"left in use after the uninstall (wine): {len(left)} files")
    assert (state / "agent.json").exists()
