"""Intake of what agents send (docs/architecture.md, "The wire"): a report in one transaction
with its alerts and file events (``report``), and the agent reads and touches the signed API
needs on the request's own connection (``agents``). Above server/store, which calls no feature;
below server/agent_api.py, which decodes the bodies (xunjian/core/contract/bodies.py)."""
