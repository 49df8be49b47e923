"""Host isolation (POLICY.md I1, docs/incidents.md): on a signed command from its enrolled
server, the agent cuts its host off the network except for its own link to the server and
loopback, keeps it so across restarts and reboots, and lifts it only on the server's signed
release or the local break-glass ``xunjian agent release-isolation`` (root).

========================  ===================================================================
``agent.isolation.firewall``    the seam to the operating system: :class:`Firewall`, the Linux
                                one (nftables in its own table, iptables as the fallback) and
                                the Windows one (not yet implemented: it refuses, cleanly)
``agent.isolation.controller``  the isolation record (``isolation.json``), command checks
                                (local allow list, the pinned command key, the generation),
                                the verification, restore at start, break-glass
========================  ===================================================================

``IsolationController.before_isolation`` (a callable taking the command's id) is called after
a command has been accepted and before the firewall changes anything: ``agent.service`` wires it
to the evidence snapshot (the scene, I1, agent/evidence.py), taken while the host still looks as
the incident left it. Without it nothing is taken. An exception from it is logged and does not
stop the isolation (an isolation that waits for evidence that cannot be taken leaves the
incident running).
"""

from __future__ import annotations
