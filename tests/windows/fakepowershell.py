"""A command runner that answers the agent's PowerShell queries from recordings.

It stands in for ``powershell.exe`` only: which recording answers is chosen by the WMI class or
COM object the script names, and the text returned is the recording file's, byte for byte, as
the real runner would decode it (tests/windows/recordings/README.md says where each comes from).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from checks.runner import CommandResult

RECORDINGS = Path(__file__).parent / "recordings"

# What WMI prints to stderr for a namespace that does not exist (a Server has no SecurityCenter2).
INVALID_NAMESPACE = (
    "Get-CimInstance : Invalid namespace\n"
    "At line:1 char:1\n"
    "    + CategoryInfo          : MetadataError: (root/SecurityCenter2:String) "
    "[Get-CimInstance], CimException\n"
    "    + FullyQualifiedErrorId : HRESULT 0x8004100e,Microsoft.Management.Infrastructure."
    "CimCmdlets.GetCimInstanceCommand\n"
)


@dataclass
class FakePowerShell:
    """``{word in the script: recording file name, or None for "Invalid namespace"}``."""

    answers: dict[str, str | None]
    calls: list[tuple[tuple[str, ...], float | None]] = field(default_factory=list)

    def run(self, argv: Sequence[str], timeout: float | None = None) -> CommandResult:
        self.calls.append((tuple(argv), timeout))
        script = argv[-1]
        for word, recording in self.answers.items():
            if word in script:
                if recording is None:
                    return CommandResult(tuple(argv), 1, "", INVALID_NAMESPACE, False)
                text = (RECORDINGS / recording).read_text(encoding="utf-8")
                return CommandResult(tuple(argv), 0, text, "", False)
        raise AssertionError(f"no recording answers {script!r}")


def defender_and_center(
    status: str | None, products: str | None, history: str | None = "updatehistory_none.json"
) -> FakePowerShell:
    return FakePowerShell(
        {
            "MSFT_MpComputerStatus": status,
            "AntiVirusProduct": products,
            "Microsoft.Update.Session": history,
        }
    )
