"""The endpoint agent: ``xunjian agent enroll | run | status``.

Modules, each small and importable alone (the service imports neither Flask nor SQLAlchemy, and
not the check library either: scans run in a child process):

========================  ===================================================================
``agent.state``           the state folder (0700): ``agent.json``, ``key.pem`` (0600),
                          ``ca.pem``, ``policy.json``, ``status.json``; atomic writes
``agent.enroll``          CA pin by ``--ca-sha256``, then enrollment over the pinned TLS
``agent.transport``       stdlib HTTPS pinned to ``ca.pem``, signed requests, error hierarchy
``agent.spool``           bounded, crash-safe SQLite queue; ``(epoch, seq)``; gaps
``agent.backoff``         exponential backoff with full jitter
``agent.messages``        validation of everything the server answers
``agent.report``          a scan's report content, fitted to the contract
``agent.scanning``        how scans run (child process by default); ``agent.scan_worker``
``agent.runner``          the units of work: scan cycle, flush, heartbeat, commands
``agent.evidence``        evidence snapshots and their chunked upload; ``agent.evidence_worker``
``agent.service``         building the service from a state folder (an isolation is re-applied
                          first); the scheduler loop
``agent.isolation``       host isolation: the firewall seam (nftables, iptables; Windows not
                          yet), signed and generation-checked commands, ``isolation.json``
``agent.cli``             enroll, run, status, release-isolation (break-glass)
========================  ===================================================================

``agent.json`` keys (identity first, then tuning with its default):

* ``server_url``, ``agent_id``, ``group``, ``ca_sha256``, ``enrolled_at``: set by enrollment.
* ``allowed_commands`` (``["scan_now", "evidence"]``): the only server commands this agent
  will run (``evidence``: a snapshot of the scene, agent/evidence.py); ``isolate`` and
  ``release`` (together) allow host isolation (docs/incidents.md).
* ``server_command_key`` (set by enrollment): the server's key isolation commands are signed
  with.
* ``start_delay_max_seconds`` (60): each job's first run is at a random moment in this window
  (except the first scan of an agent that has never scanned, which runs at once).
* ``scan_interval_seconds``, ``heartbeat_interval_seconds`` (null: from the policy, else 3600
  and 60): local overrides.
* ``job_jitter_seconds`` (null: a tenth of each interval, at most 300).
* ``flush_interval_seconds`` (15): how often unsent reports are retried, backoff permitting.
* ``backoff_base_seconds`` (5), ``backoff_cap_seconds`` (900).
* ``request_timeout_seconds`` (30).
* ``spool_max_rows`` (1000), ``spool_max_bytes`` (64 MiB).
* ``scan_root`` (null): scan a host tree under this folder instead of this machine.
* ``scan_in_process`` (false), ``scan_timeout_seconds`` (1800).

For a test that wants ``agent run`` to act at once: ``start_delay_max_seconds: 0``,
``job_jitter_seconds: 0``, a short ``heartbeat_interval_seconds`` and ``flush_interval_seconds``,
and ``scan_root`` pointing at a prepared host tree.
"""
