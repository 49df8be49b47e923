"""The seam between collectors and the operating system: where files are, how commands run."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from checks.errors import CommandUnavailable, NoPrivilege, NotApplicable
from checks.messages import said
from checks.runner import CommandResult, CommandRunner


def current_platform() -> str:
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return sys.platform


@dataclass(frozen=True)
class HostContext:
    """What collectors may touch.

    `root` is "/" on a live host or the top of a host tree (a test's, or `xunjian scan --root`).
    `runner` is None when commands must not run, which is always the case for a host tree: its
    programs are not this machine's programs.
    """

    root: Path
    runner: CommandRunner | None
    platform: str
    is_tree: bool
    # The agent's state folder, where its scheduled jobs leave facts too slow to collect in a
    # scan (Windows' pending updates); None for a scan outside the agent.
    cache: Path | None = None

    @classmethod
    def live(cls, runner: CommandRunner | None = None, cache: Path | None = None) -> HostContext:
        return cls(
            root=Path("/"),
            runner=runner if runner is not None else CommandRunner(),
            platform=current_platform(),
            is_tree=False,
            cache=cache,
        )

    @classmethod
    def tree(
        cls, root: Path, runner: CommandRunner | None = None, cache: Path | None = None
    ) -> HostContext:
        # A mounted Windows volume (Windows/System32/config/SOFTWARE) is read through its
        # registry hives; any other tree as a Linux host, as the real tools (useradd --root...)
        # build them.
        from checks.collectors.windows.volume import is_windows_volume

        platform = "windows" if is_windows_volume(root) else "linux"
        return cls(root=root, runner=runner, platform=platform, is_tree=True, cache=cache)

    def path(self, host_path: str) -> Path:
        """The place of an absolute host path such as "/etc/shadow" under this context's root."""
        relative = PurePosixPath(host_path).relative_to("/")
        return self.root.joinpath(*relative.parts)

    def read_text(self, host_path: str) -> str:
        """A host file's text. Missing -> FileNotFoundError; unreadable -> NoPrivilege."""
        try:
            return self.path(host_path).read_text(encoding="utf-8", errors="replace")
        except PermissionError as exc:
            raise said(NoPrivilege, "facts.unreadable", path=host_path) from exc

    def read_optional(self, host_path: str) -> str | None:
        try:
            return self.read_text(host_path)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def require_commands(self, program: str, why: str) -> CommandRunner:
        if self.runner is None:
            mode = "a host tree (--root)" if self.is_tree else "this scan"
            raise said(NotApplicable, "facts.commands_not_run", why=why, program=program, mode=mode)
        return self.runner

    def run(self, argv: list[str], why: str) -> CommandResult:
        """Run a command; `why` names what it is for, for the not-applicable sentence."""
        runner = self.require_commands(argv[0], why)
        try:
            return runner.run(argv)
        except CommandUnavailable as exc:
            raise said(NotApplicable, "facts.command_missing", why=why, program=argv[0]) from exc
