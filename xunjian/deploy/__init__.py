"""``xunjian deploy ssh``: install, enroll and start the agent on hosts over SSH.

Modules:
    inventory  the TOML inventory (``[[host]]`` tables), validated strictly
    bundle     the offline bundle: wheels of xunjian and the agent's dependencies
    wheel      a built xunjian wheel given with --wheel (no checkout): checked, stamped
    layout     where things go on a host; the systemd unit (package data) and the no-systemd
               fallback script
    remote     one SSH connection (paramiko, imported lazily): pinned host keys, sudo, SFTP
    steps      what is done on one host (deploy, uninstall), each step idempotent
    serverside tokens, the CA pin, the first report, the operation log (server imports, lazy)
    display    the progress lines and the summary table
    command    the command body; ``host`` is the helper that runs on the host in the agent's venv

Nothing here imports the server's or paramiko's modules at import time: the agent's install
ships this package too, and it must stay light (tests/test_layering.py).
"""
