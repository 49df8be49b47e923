"""The desktop's screen lock and removable-media automount, as GNOME's settings give them.

A setting in force for every user comes, lowest first, from the schema's default
(/usr/share/glib-2.0/schemas/*.gschema.xml), the distribution's or the site's vendor overrides
(*.gschema.override there), and the system databases of dconf's user profile
(/etc/dconf/db/NAME.d/, in the order /etc/dconf/profile/user lists them). A user's own dconf
database wins over the system ones unless the key is locked (/etc/dconf/db/NAME.d/locks/); it
is binary and per user, so it is not read: the lock says whether a user may change the value.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from checks.collectors.linux.units import unit_enabled
from checks.facts import DesktopSettings
from checks.host import HostContext

# A program each desktop or display manager installs; any one marks the host as a desktop.
DESKTOP_PROGRAMS = (
    ("/usr/bin/gnome-shell", "GNOME"),
    ("/usr/sbin/gdm3", "GDM"),
    ("/usr/sbin/gdm", "GDM"),
    ("/usr/sbin/lightdm", "LightDM"),
    ("/usr/bin/sddm", "SDDM"),
    ("/usr/bin/xfce4-session", "Xfce"),
    ("/usr/bin/startplasma-x11", "KDE Plasma"),
    ("/usr/bin/cinnamon-session", "Cinnamon"),
    ("/usr/bin/mate-session", "MATE"),
    ("/usr/bin/ukui-session", "UKUI"),
    ("/usr/bin/startdde", "Deepin"),
)
SCHEMA_DIR = "/usr/share/glib-2.0/schemas"
DCONF_PROFILE = "/etc/dconf/profile/user"
# (schema, key) pairs judged; their dconf paths are /org/gnome/desktop/<schema tail>/<key>.
KEYS = (
    ("org.gnome.desktop.session", "idle-delay"),
    ("org.gnome.desktop.screensaver", "lock-enabled"),
    ("org.gnome.desktop.screensaver", "lock-delay"),
    ("org.gnome.desktop.media-handling", "automount"),
    ("org.gnome.desktop.media-handling", "automount-open"),
)


def gvariant_text(value: str) -> str:
    """'uint32 300' -> '300', 'true' -> 'true': the value without its type annotation."""
    words = value.strip().split()
    if len(words) == 2 and words[0] in ("uint32", "int32", "uint64", "int64"):
        return words[1]
    return value.strip().strip("'\"")


def _keyfile(text: str) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip(), {})
        elif current is not None and "=" in line:
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    return sections


def _schema_defaults(host: HostContext) -> dict[tuple[str, str], tuple[str, str]]:
    found: dict[tuple[str, str], tuple[str, str]] = {}
    wanted = {schema for schema, _ in KEYS}
    for schema in wanted:
        path = f"{SCHEMA_DIR}/{schema}.gschema.xml"
        text = host.read_optional(path)
        if text is None:
            continue
        try:
            tree = ElementTree.fromstring(text)
        except ElementTree.ParseError:
            continue
        for element in tree.iter("schema"):
            if element.get("id") != schema:
                continue
            for key in element.iter("key"):
                default = key.findtext("default")
                if default is not None:
                    found[(schema, key.get("name", ""))] = (gvariant_text(default), path)
    return found


def _system_databases(host: HostContext) -> list[str]:
    text = host.read_optional(DCONF_PROFILE)
    if text is None:
        return []  # dconf's built-in profile: the user's own database only
    return [
        line.split(":", 1)[1].strip()
        for line in text.splitlines()
        if line.strip().startswith("system-db:")
    ]


def collect_desktop_settings(host: HostContext) -> DesktopSettings:
    desktops: list[str] = []
    for program, name in DESKTOP_PROGRAMS:
        if host.path(program).is_file() and name not in desktops:
            desktops.append(name)
    if unit_enabled(host, "display-manager.service") and not desktops:
        desktops.append("a display manager")
    values = _schema_defaults(host)
    gnome = bool(values)
    schema_dir = host.path(SCHEMA_DIR)
    # Vendor overrides apply in file-name order, a later file winning.
    overrides = sorted(p.name for p in schema_dir.glob("*.gschema.override")) if gnome else []
    for name in overrides:
        path = f"{SCHEMA_DIR}/{name}"
        for section, keys in _keyfile(host.read_optional(path) or "").items():
            schema = section.split(":", 1)[0]  # [schema:DESKTOP] applies on that desktop
            for key, value in keys.items():
                if (schema, key) in values:
                    values[(schema, key)] = (gvariant_text(value), path)
    locked: list[str] = []
    # The first system database in the profile that sets a key wins over the later ones.
    for database in reversed(_system_databases(host)):
        folder = f"/etc/dconf/db/{database}.d"
        base = host.path(folder)
        if not base.is_dir():
            continue
        for keyfile in sorted(p for p in base.iterdir() if p.is_file()):
            text = host.read_optional(f"{folder}/{keyfile.name}") or ""
            for section, keys in _keyfile(text).items():
                schema = "org." + section.strip("/").removeprefix("org/").replace("/", ".")
                for key, value in keys.items():
                    if (schema, key) in values:
                        values[(schema, key)] = (gvariant_text(value), f"{folder}/{keyfile.name}")
        locks = base / "locks"
        for lockfile in sorted(locks.iterdir()) if locks.is_dir() else []:
            for line in (host.read_optional(f"{folder}/locks/{lockfile.name}") or "").splitlines():
                path = line.strip()
                if path.startswith("/"):
                    tail, _, key = path.rpartition("/")
                    locked.append(f"{tail.strip('/').replace('/', '.')} {key}")
    return DesktopSettings(
        desktops=tuple(desktops),
        gnome_settings=gnome,
        values={f"{s} {k}": v for (s, k), (v, _) in values.items() if (s, k) in KEYS},
        sources={f"{s} {k}": src for (s, k), (_, src) in values.items() if (s, k) in KEYS},
        locked=tuple(sorted(set(locked))),
    )
