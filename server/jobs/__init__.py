"""Scheduled server work (DESIGN.md "Scheduled server work"): jobs that must run once per
period however many server processes run them, each guarded by a lease row.

Modules: ``models`` (the ``job_leases`` table), ``lease`` (take, release), ``runner`` (the
thread ``xunjian server run`` starts in each worker process and the registered jobs).
"""
