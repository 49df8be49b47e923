"""The network devices' REST bodies (``/api/v1/devices...``, server/devices/api.py): adding a
device with its authorisation, and the device, check and credential answers;
docs/architecture.md, "Bodies and validation". What a schema cannot say (an address is an IP
address or a host name, text without control characters) is checked by
``server.devices.store.validate``, which the console and the command line use too."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from server.devices.models import DEVICE_TYPES
from xunjian.core.schema import Body

MAX_ADDRESS = 253
MAX_LABEL = 100
MAX_AUTHORISATION = 1000
MIN_AUTHORISATION = 10
MAX_NAME = 64
USER_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$"


class NewDevice(Body, kw_only=True):
    address: Annotated[str, Meta(min_length=1, max_length=MAX_ADDRESS)]
    port: Annotated[int, Meta(ge=1, le=65535)] = 22
    type: Literal[DEVICE_TYPES]  # type: ignore[valid-type]
    label: Annotated[str, Meta(max_length=MAX_LABEL)] = ""
    key_user: Annotated[str, Meta(pattern=USER_PATTERN)] = "root"
    authorised_by: Annotated[str, Meta(min_length=1, max_length=MAX_NAME, pattern=r"\S")]
    authorisation: Annotated[
        str,
        Meta(
            min_length=MIN_AUTHORISATION,
            max_length=MAX_AUTHORISATION,
            description="that the organisation owns this device and allows these checks",
        ),
    ]


class EmptyBody(Body):
    """A body that must be absent, empty or ``{}``."""


class Device(Body):
    """A device as listed (never its password)."""

    id: int
    host_id: str
    address: str
    port: int
    type: str
    label: str
    key_user: str
    authorised_by: str
    authorisation: str
    added_by: str
    added_at: str | None
    due_at: str | None
    last_checked_at: str | None
    last_outcome: str | None
    last_message: str | None
    last_attempts: int | None
    auth_methods: list[str] | None
    org_key_accepted: bool | None
    default_credential_user: str | None


class DeviceList(Body):
    devices: list[Device]
    total: int


class DeviceRemoved(Body):
    id: int
    address: str
    port: int
    removed: bool


class CheckQueued(Body):
    id: int
    due: bool
    within_seconds: int


class FoundCredential(Body):
    device_id: int
    user: str
    password: str
    found_at: str | None
