"""``xunjian build windows-msi [--out DIR] [--cache DIR] [--source DIR]``.

Exit status: 0 built; 1 the build failed (the message names the missing tool or the bad file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="build_command", required=True, metavar="WHAT")
    p = sub.add_parser("windows-msi", help="the agent's Windows installer (wixl, on Linux)")
    p.add_argument("--out", type=Path, default=Path("dist"), help="output folder (dist)")
    p.add_argument("--cache", type=Path, default=None,
                   help="downloads, kept for offline builds (~/.cache/xunjian/msi)")  # fmt: skip
    p.add_argument("--source", type=Path, default=Path("."), help="the xunjian checkout (.)")
    p.set_defaults(handler=windows_msi_command)


def windows_msi_command(args: argparse.Namespace) -> int:
    from xunjian.msi.build import build
    from xunjian.msi.tools import BuildError

    if not (args.source / "pyproject.toml").exists():
        print(f"xunjian build: {args.source} is not a xunjian checkout", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        built = build(args.source.resolve(), args.out.resolve(), args.cache)
    except BuildError as exc:
        print(f"xunjian build: {exc}", file=sys.stderr)
        return 1
    size = built.path.stat().st_size
    print(f"{built.path} ({size / 1e6:.1f} MB, {built.files} files, "
          f"{len(built.signed)} runtime files with a valid PSF signature)")  # fmt: skip
    return 0
