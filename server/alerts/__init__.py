"""Alerts: rows born from state changes, deduplicated by subject (docs/alerts.md).

* ``models``   the ``alerts`` and ``alert_comments`` tables
* ``detect``   detection inside the report's ingest transaction (server/store/ingest.py)
* ``silent``   the periodic sweep for agents that stopped talking
* ``api``      ``/api/v1/alerts`` for people with API tokens
"""
