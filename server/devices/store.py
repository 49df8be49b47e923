"""The device inventory in the database: add (with the authorisation), list, schedule, claim.

Claims work like the alert delivery's (server/alerts/delivery.py): a conditional UPDATE that
only succeeds while nobody holds the device (``claimed_until`` in the past), so the server's
worker processes and a ``device check --now`` never check one device twice at once.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, delete, or_, select, update
from sqlalchemy.orm import Session

from server.devices.models import DEVICE_PLATFORM, Device
from server.devices.schemas import MAX_NAME, MIN_AUTHORISATION
from server.devices.schemas import NewDevice as NewDeviceBody
from server.sealing import Sealer
from server.store.agents import DEFAULT_GROUP, delete_agent, get_or_create_group
from server.store.models import Agent, utcnow
from xunjian.core.schema import BodyError, convert

CLAIM_SECONDS = 900
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class DeviceError(ValueError):
    """Bad input for a device (the message says which field and why)."""


@dataclass(frozen=True)
class NewDevice:
    address: str
    port: int
    type: str
    label: str
    key_user: str
    authorised_by: str
    authorisation: str


def validate(
    address: object,
    port: object,
    device_type: object,
    label: object = "",
    key_user: object = "root",
    authorised_by: object = "",
    authorisation: object = "",
) -> NewDevice:
    """Every field checked and bounded; DeviceError names the first bad one.

    The bounds are the API's model (``schemas.NewDevice``: one definition for the API, the
    console and the command line); what a model cannot say is checked here after it: an
    address is an IP address or a host name, text holds no control characters, and the
    authorisation is long enough without its surrounding blanks."""
    fields = {
        "address": address.strip() if isinstance(address, str) else address,
        "port": port,
        "type": device_type,
        "label": label,
        "key_user": key_user,
        "authorised_by": authorised_by,
        "authorisation": authorisation,
    }
    try:
        body = convert(fields, NewDeviceBody, from_text=True)
    except BodyError as error:
        raise DeviceError(str(error)) from None
    try:
        normal_address = str(ipaddress.ip_address(body.address))
    except ValueError:
        if not _HOSTNAME.fullmatch(body.address) or body.address.replace(".", "").isdigit():
            raise DeviceError(
                f"address: {body.address[:80]!r} is neither an IP address nor a host name"
            ) from None
        normal_address = body.address.lower()
    for name in ("label", "authorised_by"):
        if _CONTROL.search(getattr(body, name)):
            raise DeviceError(f"{name}: no control characters")
    if len(body.authorisation.strip()) < MIN_AUTHORISATION:
        raise DeviceError(
            "authorisation: a statement that the organisation owns this device and allows "
            f"these checks (at least {MIN_AUTHORISATION} characters)"
        )
    return NewDevice(
        address=normal_address,
        port=body.port,
        type=body.type,
        label=body.label.strip() or f"{body.type} {normal_address}",
        key_user=body.key_user,
        authorised_by=body.authorised_by.strip(),
        authorisation=body.authorisation.strip(),
    )


def _unusable_public_key() -> str:
    """An Ed25519 public key whose private half is dropped at once: the device's agents row
    can never sign a request (the agent API checks signatures against it)."""
    raw = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return base64.b64encode(raw).decode("ascii")


def add_device(session: Session, new: NewDevice, added_by: str) -> Device:
    """The device and its agents row, due for a check at once. The caller commits."""
    existing = session.scalar(
        select(Device).where(Device.address == new.address, Device.port == new.port)
    )
    if existing is not None:
        raise DeviceError(f"{new.address}:{new.port} is already device {existing.id}")
    group = get_or_create_group(session, DEFAULT_GROUP)
    now = utcnow()
    agent = Agent(
        id=str(uuid.uuid4()),
        public_key=_unusable_public_key(),
        hostname=new.label,
        os=f"{new.type} (SSH {new.address}:{new.port})",
        platform=DEVICE_PLATFORM,
        agent_version="",
        group_id=group.id,
        enrolled_at=now,
    )
    session.add(agent)
    session.flush()
    device = Device(
        agent_id=agent.id,
        address=new.address,
        port=new.port,
        type=new.type,
        label=new.label,
        key_user=new.key_user,
        authorised_by=new.authorised_by,
        authorisation=new.authorisation,
        added_by=added_by[:MAX_NAME],
        added_at=now,
        due_at=now,
        last_message="",
        last_attempts=0,
    )
    session.add(device)
    session.flush()
    return device


def remove_device(session: Session, device_id: int) -> Device | None:
    """Delete the device and its host (its results, history and alerts go with it,
    server/store/agents.py ``delete_agent``). Returns the removed device, or None. The caller
    commits."""
    device = session.get(Device, device_id)
    if device is None:
        return None
    session.execute(delete(Device).where(Device.id == device_id))
    delete_agent(session, device.agent_id)
    return device


def list_devices(session: Session) -> list[Device]:
    return list(session.scalars(select(Device).order_by(Device.id)))


def get_device(session: Session, device_id: int) -> Device | None:
    return session.get(Device, device_id)


def mark_all_due(session: Session) -> int:
    """Every device due now, for the server's next scheduled check. The caller commits."""
    result = session.execute(update(Device).values(due_at=utcnow()))
    return int(result.rowcount or 0)


def due_ids(engine: Engine, now: datetime.datetime, limit: int = 10) -> list[int]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(Device.id)
            .where(Device.due_at.is_not(None), Device.due_at <= now, _free(now))
            .order_by(Device.due_at)
            .limit(limit)
        )
        return [int(row[0]) for row in rows]


def _free(now: datetime.datetime) -> object:
    return or_(Device.claimed_until.is_(None), Device.claimed_until < now)


def claim(engine: Engine, device_id: int, worker: str, due_only: bool) -> bool:
    """Take the device for one check; False if another process holds it (or, with
    ``due_only``, it is no longer due)."""
    now = utcnow()
    conditions = [Device.id == device_id, _free(now)]
    if due_only:
        conditions += [Device.due_at.is_not(None), Device.due_at <= now]
    with engine.begin() as connection:
        result = connection.execute(
            update(Device)
            .where(*conditions)
            .values(
                claimed_by=worker,
                claimed_until=now + datetime.timedelta(seconds=CLAIM_SECONDS),
            )
        )
    return result.rowcount == 1


# -- the found credential, encrypted at rest ---------------------------------------------------


# The HKDF info string is part of the key: it stays as it was, so sealed passwords still open.
CREDENTIAL_PURPOSE = b"xunjian device credentials v1"


def seal(data: Path, password: str) -> str:
    return Sealer(data, CREDENTIAL_PURPOSE).seal(password)


def unseal(data: Path, sealed: str) -> str | None:
    """The password, or None if it cannot be decrypted (the secret key changed)."""
    return Sealer(data, CREDENTIAL_PURPOSE).unseal(sealed)
