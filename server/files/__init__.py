"""File events from the agents' watchers: stored, raising web-shell and sensitive-word alerts,
listed by the API and the console (docs/file-watcher.md)."""
