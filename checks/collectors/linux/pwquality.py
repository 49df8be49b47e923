"""Password quality settings: libpwquality's files and the PAM password stack's arguments."""

from __future__ import annotations

from checks.facts import PwQuality
from checks.host import HostContext

PWQUALITY_CONF = "/etc/security/pwquality.conf"
PWQUALITY_CONF_DIR = "/etc/security/pwquality.conf.d"
# Debian/Ubuntu keep the password stack in common-password; Red Hat family in the other two.
PAM_PASSWORD_FILES = (
    "/etc/pam.d/common-password",
    "/etc/pam.d/system-auth",
    "/etc/pam.d/password-auth",
)
QUALITY_MODULES = ("pam_pwquality.so", "pam_cracklib.so")
_SETTINGS = ("minlen", "minclass", "dcredit", "ucredit", "lcredit", "ocredit")


def parse_pwquality_conf(text: str) -> dict[str, int]:
    values: dict[str, int] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or key not in _SETTINGS:
            continue
        try:
            values[key] = int(value.strip())
        except ValueError:
            continue
    return values


def pam_tokens(line: str) -> list[str]:
    """Split a PAM line, keeping a bracketed control such as "[success=1 default=ignore]" whole."""
    tokens: list[str] = []
    bracket: list[str] = []
    for word in line.split():
        if bracket or word.startswith("["):
            bracket.append(word)
            if word.endswith("]"):
                tokens.append(" ".join(bracket))
                bracket = []
        else:
            tokens.append(word)
    return tokens


def parse_pam_password_stack(text: str) -> tuple[str | None, dict[str, int]]:
    """The quality module used in a PAM file's password stack, and the settings it is given."""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        tokens = pam_tokens(line)
        if len(tokens) < 3 or tokens[0].lstrip("-") != "password":
            continue
        module = tokens[2].rsplit("/", 1)[-1]
        if module in QUALITY_MODULES:
            args = "\n".join(tokens[3:])
            return module, parse_pwquality_conf(args)
    return None, {}


def collect_pwquality(host: HostContext) -> PwQuality:
    values: dict[str, int] = {}
    sources: list[str] = []
    conf_dir = host.path(PWQUALITY_CONF_DIR)
    # libpwquality reads the .d files first, in ASCII order, then the main file, later wins.
    drop_ins = sorted(p.name for p in conf_dir.glob("*.conf")) if conf_dir.is_dir() else []
    for path in [f"{PWQUALITY_CONF_DIR}/{name}" for name in drop_ins] + [PWQUALITY_CONF]:
        text = host.read_optional(path)
        if text is not None:
            sources.append(path)
            values.update(parse_pwquality_conf(text))
    pam_module = None
    pam_files_read = False
    for path in PAM_PASSWORD_FILES:
        text = host.read_optional(path)
        if text is None:
            continue
        pam_files_read = True
        module, args = parse_pam_password_stack(text)
        if module is not None:
            pam_module = module
            # Module arguments override the configuration files.
            values.update(args)
            sources.append(path)
            break
    return PwQuality(
        minlen=values.get("minlen"),
        minclass=values.get("minclass"),
        dcredit=values.get("dcredit"),
        ucredit=values.get("ucredit"),
        lcredit=values.get("lcredit"),
        ocredit=values.get("ocredit"),
        pam_module=pam_module,
        pam_files_read=pam_files_read,
        sources=tuple(sources),
    )
