"""``xunjian server evidence list|download``: evidence snapshots on the server's own host; each
use is an operation log entry (POLICY.md A1: reading evidence is registered, from the command
line too). The offline check of a downloaded archive is ``xunjian evidence verify``
(xunjian/cli_evidence.py)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from server.commands import add_data_option, fail, open_data, record_command, store_session
from server.config import ConfigError
from server.evidence import store


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """``evidence`` under ``xunjian server``."""
    evidence = subparsers.add_parser("evidence", help="evidence snapshots the agents uploaded")
    esub = evidence.add_subparsers(dest="evidence_command", required=True, metavar="COMMAND")
    p = esub.add_parser("list", help="snapshots, newest first (logged)")
    add_data_option(p)
    p.add_argument("--host", default=None, help="only this host's (agent id)")
    p.add_argument("--json", action="store_true", help="as JSON")
    p.set_defaults(handler=list_command)
    p = esub.add_parser(
        "download", help="write a snapshot's archive and manifest into a folder (logged)"
    )
    add_data_option(p)
    p.add_argument("id", help="the snapshot's id")
    p.add_argument("--out", type=Path, default=Path("."), help="folder (default: here)")
    p.set_defaults(handler=download_command)


def list_command(args: argparse.Namespace) -> int:
    try:
        config, _ = open_data(args)
    except ConfigError as exc:
        return fail(str(exc))
    with store_session(config) as session:
        rows = store.list_snapshots(session, args.host, 500)
        listed = [store.snapshot_json(row, hostname) for row, hostname in rows]
    status = record_command(
        config, args, "evidence.list", "evidence", {"host": args.host, "count": len(listed)}
    )
    if status:
        return status
    if args.json:
        print(json.dumps(listed, ensure_ascii=False, indent=2))
        return 0
    for item in listed:
        state = "complete" if item["complete"] else f"arriving {item['received']}/{item['size']}"
        print(
            f"{item['id']}  {item['host']['hostname']}  {item['taken_at'] or '-'}  {state}  "
            f"{item['size']} bytes  sha256 {item['sha256']}  {item['reason']}"
        )
    return 0


def download_command(args: argparse.Namespace) -> int:
    try:
        config, paths = open_data(args)
    except ConfigError as exc:
        return fail(str(exc))
    target = f"evidence:{args.id[:36]}"
    try:
        with store_session(config) as session:
            row, _ = store.get_snapshot(session, args.id)
            key = store.agent_public_key(session, row.agent_id)
        source = store.archive_file(paths.root, row)
        document = store.manifest_document(paths.root, row, key)
    except store.EvidenceMissing as exc:
        return record_command(config, args, "evidence.download", target, refused=str(exc))
    out: Path = args.out
    archive = out / f"evidence-{row.id}.tar"
    manifest = out / f"evidence-{row.id}.manifest.json"
    try:
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, archive)
        manifest.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", "utf-8")
    except OSError as exc:
        return fail(f"cannot write into {out}: {exc}")
    status = record_command(
        config,
        args,
        "evidence.download",
        target,
        {"host": row.agent_id, "sha256": row.sha256, "size": row.size},
    )
    if status:
        return status
    print(f"{archive}\n{manifest}")
    print(f"sha256 {row.sha256}; agent key {row.key_id}")
    return 0
