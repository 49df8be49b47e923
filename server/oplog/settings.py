"""The operation log's settings and their limits. Imports nothing from ``server`` so that
``server/config.py`` can call ``retention_problem`` while loading config.json."""

from __future__ import annotations

from dataclasses import dataclass

# POLICY.md E12: network logs are kept at least 60 days by the site rule and at least six
# months by national law; the default follows the law, the floor the rule.
DEFAULT_RETENTION_DAYS = 180
MIN_RETENTION_DAYS = 60
MAX_RETENTION_DAYS = 100 * 365
# A checkpoint (one Ed25519 signature) every this many entries: entries after the newest
# checkpoint are protected by the hash chain only, so smaller is safer; signing costs ~0.1 ms.
DEFAULT_CHECKPOINT_EVERY = 100


def retention_problem(days: object) -> str | None:
    """Why ``oplog_retention_days`` is unacceptable, or None."""
    if not isinstance(days, int) or isinstance(days, bool):
        return "oplog_retention_days must be a whole number of days"
    if days < MIN_RETENTION_DAYS:
        return (
            f"oplog_retention_days is {days}; operation logs must be kept at least "
            f"{MIN_RETENTION_DAYS} days (POLICY.md E12)"
        )
    if days > MAX_RETENTION_DAYS:
        return f"oplog_retention_days may be at most {MAX_RETENTION_DAYS}"
    return None


def checkpoint_problem(every: object) -> str | None:
    if not isinstance(every, int) or isinstance(every, bool) or not 1 <= every <= 100_000:
        return "oplog_checkpoint_every must be a whole number 1..100000"
    return None


@dataclass(frozen=True)
class OplogSettings:
    retention_days: int = DEFAULT_RETENTION_DAYS
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY

    def __post_init__(self) -> None:
        problem = retention_problem(self.retention_days) or checkpoint_problem(
            self.checkpoint_every
        )
        if problem:
            raise ValueError(problem)

    @classmethod
    def from_config(cls, config: object) -> OplogSettings:
        """From a ``ServerConfig``. Until config.py declares the two settings, the defaults
        apply (getattr), so the log works before and after that wiring."""
        return cls(
            retention_days=getattr(config, "oplog_retention_days", DEFAULT_RETENTION_DAYS),
            checkpoint_every=getattr(config, "oplog_checkpoint_every", DEFAULT_CHECKPOINT_EVERY),
        )
