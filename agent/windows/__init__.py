"""The agent as a Windows service (docs/windows-deploy.md).

The same agent loop as on Linux (``agent.service``) under the service control manager. Every
Windows API call sits behind a seam (``acl.SecurityApi``, the event-log handler factory in
``logs``, the pywin32 modules that ``service.make_service_class`` imports on call), so the
logic is tested on Linux and only the thin adapters need Windows (or wine).
"""
