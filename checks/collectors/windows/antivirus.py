"""Antivirus state on the running PC (E1, E8): Microsoft Defender's ``MSFT_MpComputerStatus``
and the products Windows Security Center knows (``root/SecurityCenter2`` ``AntiVirusProduct``,
which exists on Windows clients only, not on Server).

The parsing is pure (records in, facts out) and tested on recordings in the APIs' JSON
(tests/windows/recordings/); the collectors in facts.py ask PowerShell for them.

``productState`` is not documented by Microsoft; its decoding follows what administrators have
published from observed values (tests/windows/recordings/README.md): bits 12-15 the product's
state (0 off, 1 on, 2 snoozed, 3 expired), bits 8-11 the owner (1: Windows, i.e. Defender),
bits 4-7 the signatures (0 up to date, 1 out of date).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from checks.collectors.windows.powershell import json_datetime
from checks.facts_windows import DefenderState, SecurityCenterProduct

MP_COMPUTER_STATUS = (
    "Get-CimInstance -Namespace root/Microsoft/Windows/Defender -ClassName MSFT_MpComputerStatus"
    " | Select-Object AMServiceEnabled, AntivirusEnabled, RealTimeProtectionEnabled,"
    " AntivirusSignatureVersion, AntivirusSignatureLastUpdated, QuickScanEndTime,"
    " FullScanEndTime | ConvertTo-Json -Compress"
)
ANTIVIRUS_PRODUCTS = (
    "Get-CimInstance -Namespace root/SecurityCenter2 -ClassName AntiVirusProduct"
    " | Select-Object displayName, instanceGuid, pathToSignedProductExe, productState, timestamp"
    " | ConvertTo-Json -Compress"
)

_STATES = {0x0: "off", 0x1: "on", 0x2: "snoozed", 0x3: "expired"}
_OWNER_WINDOWS = 0x1
_SIGNATURES_OUT_OF_DATE = 0x1


def decode_product_state(value: int) -> tuple[str, bool, bool]:
    """(state, signatures up to date, by Microsoft) of a Security Center productState."""
    state = _STATES.get((value >> 12) & 0xF, "unknown")
    owner = (value >> 8) & 0xF
    signatures = (value >> 4) & 0xF
    return state, signatures != _SIGNATURES_OUT_OF_DATE, owner == _OWNER_WINDOWS


def security_center_products(records: list[dict[str, Any]]) -> tuple[SecurityCenterProduct, ...]:
    products = []
    for record in records:
        raw = record.get("productState")
        if not isinstance(raw, int):
            continue  # a product that registered no state says nothing to judge
        state, up_to_date, by_microsoft = decode_product_state(raw)
        products.append(
            SecurityCenterProduct(
                name=str(record.get("displayName") or "?"),
                state=state,
                signatures_up_to_date=up_to_date,
                by_microsoft=by_microsoft,
                product_state=raw,
            )
        )
    return tuple(products)


def defender_from_status(registry: DefenderState, status: dict[str, Any]) -> DefenderState:
    """The hive's Defender state (its policy flag) overlaid with what Defender itself says."""

    def flag(name: str) -> bool | None:
        value = status.get(name)
        return value if isinstance(value, bool) else None

    realtime = flag("RealTimeProtectionEnabled")
    return dataclasses.replace(
        registry,
        installed=True,
        realtime_disabled=registry.realtime_disabled if realtime is None else not realtime,
        signature_version=str(status.get("AntivirusSignatureVersion") or ""),
        signatures_updated_at=json_datetime(status.get("AntivirusSignatureLastUpdated")),
        service_enabled=bool(flag("AMServiceEnabled")),
        antivirus_enabled=flag("AntivirusEnabled"),
        quick_scan_at=json_datetime(status.get("QuickScanEndTime")),
        full_scan_at=json_datetime(status.get("FullScanEndTime")),
    )
