"""Alerts: rows born from state changes, deduplicated by subject (docs/alerts.md).

* ``models``   the ``alerts`` and ``alert_comments`` tables
* ``detect``   detection inside the report's ingest transaction (server/store/ingest.py)
* ``silent``   the periodic sweep for agents that stopped talking
* ``api``      ``/api/v1/alerts`` for people with API tokens
* ``channels`` notification channels from config.json, validated at load
* ``delivery`` queueing notifications and sending them under a claim
* ``worker``   the background thread ``xunjian server run`` starts in each process
"""
