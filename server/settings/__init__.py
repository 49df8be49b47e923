"""Settings an administrator changes in the console: console accounts, enrollment tokens, API
tokens and the run-time settings (retention, session idle) that override config.json.

The pages are the "settings" blueprint (``server/settings/views.py``); the functions behind them
are here (``runtime.py``, ``accounts.py``, ``tokens.py``) so the CLI and tests use them too.
"""
