"""Microsoft Defender's state as the SOFTWARE hive keeps it (E1, E8): offline, and on a live PC
as a cross-check of ``MSFT_MpComputerStatus``. Group policy (``Policies\\Microsoft\\Windows
Defender``) wins over the local setting, as Defender applies it.
"""

from __future__ import annotations

import datetime
import struct

from checks.collectors.windows.hives import filetime
from checks.collectors.windows.registry import RegistrySource
from checks.facts_windows import DefenderState

DEFENDER = "Microsoft\\Windows Defender"
DEFENDER_POLICY = "Policies\\Microsoft\\Windows Defender"


def _binary_filetime(value: object) -> datetime.datetime | None:
    if isinstance(value, bytes) and len(value) >= 8:
        return filetime(struct.unpack_from("<Q", value)[0])
    if isinstance(value, int):
        return filetime(value)
    return None


def read_defender(software: RegistrySource) -> DefenderState:
    local = software.key(DEFENDER)
    policy = software.key(DEFENDER_POLICY)

    def setting(subkey: str, name: str) -> int | None:
        for base in (policy, local):
            key = base.subkey(subkey) if base is not None and subkey else base
            value = key.value(name) if key is not None else None
            if isinstance(value, int):
                return value
        return None

    signatures = local.subkey("Signature Updates") if local is not None else None
    values = signatures.values() if signatures is not None else {}
    return DefenderState(
        installed=local is not None,
        disabled_by_policy=setting("", "DisableAntiSpyware") == 1,
        realtime_disabled=setting("Real-Time Protection", "DisableRealtimeMonitoring") == 1,
        signature_version=str(values.get("AVSignatureVersion", "")),
        signatures_updated_at=_binary_filetime(values.get("SignaturesLastUpdated")),
    )
