"""Which time synchronisation service starts at boot (logs need true time: POLICY.md E12).

Enabled in systemd's sense (a *.wants link, as for the firewall), among the services Debian and
Red Hat ship: systemd-timesyncd, chrony, ntpsec, ntp, openntpd. The configured servers are not
judged here.
"""

from __future__ import annotations

from checks.collectors.linux.units import unit_enabled
from checks.facts import TimeSync
from checks.host import HostContext

TIME_SERVICES = (
    "systemd-timesyncd.service",
    "chrony.service",
    "chronyd.service",
    "ntpsec.service",
    "ntp.service",
    "ntpd.service",
    "openntpd.service",
)


def collect_time_sync(host: HostContext) -> TimeSync:
    enabled = tuple(unit for unit in TIME_SERVICES if unit_enabled(host, unit))
    return TimeSync(enabled_services=enabled, looked_for=TIME_SERVICES)
