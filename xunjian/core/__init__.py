"""The shared core below both agent and server: the signed wire protocol (``wire``), the
agent/server contract (``contract``), default paths (``paths``) and the page fetch both sides'
monitors use (``probe``). It imports only the standard library and ``cryptography``; the
command line, deployment and demo in ``xunjian`` sit on top of it (docs/architecture.md)."""
