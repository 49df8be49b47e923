"""Scheduled server work (DESIGN.md "Scheduled server work"): jobs that must run once per
period however many server processes run them, each guarded by a lease row.

Modules: ``models`` (the ``job_leases`` table), ``lease`` (take, release), ``runner`` (the
thread ``xunjian server run`` starts in each worker process and the registered jobs),
``threads`` (every feature's background thread, started by ``xunjian server run``).
``install(app)`` adds the runner's thread. This ``__init__`` imports nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def install(app: Flask) -> None:
    """The leased jobs' thread (weekly reports, purges) in each ``xunjian server run`` process."""
    from server.jobs.runner import start_job_runner
    from server.threads import add_thread

    add_thread(app, start_job_runner)
