"""Linux collectors: files under the host's root (/etc, /var/lib/dpkg, /proc...) and commands
with a timeout, through HostContext (checks/host.py)."""
