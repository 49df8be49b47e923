"""Agentless checks of the organisation's network devices (routers, Wi-Fi access points, NAS,
switches, Linux boxes): an inventory kept with the admin's recorded authorisation, an SSH prober
that looks for vendor-default credentials (POLICY.md E2, E5), and the Linux collectors run over
SSH with the organisation's own key. See docs/devices.md."""
