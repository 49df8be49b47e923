"""merge: the feature branches built side by side from 0005 become one history again

Fleet snapshots (0006), run-time settings (0007), weekly reports and job leases (0008), page
monitors (0009), policy settings (0010), devices (0011) and file events (0012) touch separate
tables, so their order among themselves does not matter; from here on there is one head.

Revision ID: 0013_merge_features
Revises: 0006_fleet, 0007_settings, 0008_reports, 0009_monitors, 0010_policy_settings,
    0011_devices, 0012_file_events
Create Date: 2026-11-23
"""

from __future__ import annotations

revision = "0013_merge_features"
down_revision = (
    "0006_fleet",
    "0007_settings",
    "0008_reports",
    "0009_monitors",
    "0010_policy_settings",
    "0011_devices",
    "0012_file_events",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
