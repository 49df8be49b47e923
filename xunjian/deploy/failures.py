"""Why a host failed: a closed set of reasons, each with what to do (docs/deploy.md)."""

from __future__ import annotations

UNREACHABLE = "unreachable"
HOST_KEY_MISMATCH = "host key mismatch"
HOST_KEY_UNKNOWN = "host key unknown"
AUTHENTICATION = "authentication"
SUDO = "sudo"
INSTALL = "install"
ENROLL = "enroll"
START = "start"
NO_REPORT = "no report"
UNINSTALL = "uninstall"

REASONS = (
    UNREACHABLE,
    HOST_KEY_MISMATCH,
    HOST_KEY_UNKNOWN,
    AUTHENTICATION,
    SUDO,
    INSTALL,
    ENROLL,
    START,
    NO_REPORT,
    UNINSTALL,
)


class DeployFailure(Exception):
    """A host could not be deployed (or uninstalled); ``reason`` is one of REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        assert reason in REASONS, reason
        super().__init__(message)
        self.reason = reason
        self.message = message
