"""The server fixtures of tests/server (a real ``server init`` data folder per database, the
app, signed agents), for the file watcher's server-side tests."""

from tests.server.conftest import agent, server  # noqa: F401
