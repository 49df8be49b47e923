"""The console: server-rendered pages for people (login, hosts, a host's results)."""
