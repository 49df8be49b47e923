"""The console's fleet pages: dashboard, hosts, a host, checks (docs/console.md)."""
