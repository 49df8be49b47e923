"""Page monitors an agent runs for the server: sites only the inside network reaches
(docs/monitors.md, "Internal-only sites: monitors run by an agent").

* ``spec``: the list the server assigns this agent (``GET /api/v1/agent/monitors``), checked;
* ``collector``: the one part that touches the network: ``xunjian.core.probe.fetch``, the server's
  own fetch code, and the outcome as the wire carries it;
* ``runner``: the schedule (each monitor at its interval), delivery of the outcomes
  (``POST /api/v1/agent/monitor-outcomes``), and what waits while the server is unreachable.

Judging (up/down, tamper, certificate, slow) stays on the server.
"""
