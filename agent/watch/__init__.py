"""The file watcher: web roots and upload folders from the policy, watched with watchdog,
changes reported as file events (docs/file-watcher.md)."""
