"""The check library: collectors (the only OS access), typed facts, pure checks, one registry.

Import only the standard library here: the agent must stay light.

    api.py          the stable interface for the agent and the server
    cli.py          `xunjian scan`
    model.py        Status, Severity, Finding, Result (the wire contract)
    host.py         HostContext: the root path and command runner collectors go through
    runner.py       CommandRunner: no shell, timeout, bounded output
    facts.py        the typed facts (KEYED_FACTS depend on a policy value, such as a path)
    collectors/     one function per fact; weak_passwords.py calls libcrypt through ctypes
    factset.py      facts collected once per scan (keyed ones once per key), read through a
                    declared view
    library/        the checks, pure functions of facts and parameters
    registry.py     every check's metadata, validated at import
    engine.py       runs checks and turns every outcome into a result
    inventory.py    host name, OS, kernel, addresses
    docs.py         docs/checks.md from the registry
"""
