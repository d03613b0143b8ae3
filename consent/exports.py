"""Exports of consent events as CSV or JSON, each with a manifest that lets anyone check it later.

The manifest names the filters, the row count, the file's SHA-256 and the chain head at export time. The
rows are read up to that head only, so the file is a consistent cut of the ledger even while calls go on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine

from consent.ledger import chain_head, event_hash_at, verify_chain
from consent.models import ConsentEvent, NoticeVersion
from consent.search import EventFilter, iter_events, notice_versions
from consent.timestamps import utc_now

MANIFEST_SCHEMA = "consent-export/1"

COLUMNS = (
    "seq",
    "recorded_at",
    "call_ref",
    "subject",
    "language",
    "decision",
    "method",
    "notice_version",
    "notice_sha256",
    "disclosure_version",
    "disclosure_sha256",
    "prompt_count",
    "notice_played_at",
    "answered_at",
    "recognised_answer",
    "answer_digest",
    "prev_hash",
    "event_hash",
)


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


@dataclass(frozen=True)
class ConsentExport:
    file_name: str
    content: bytes
    manifest: dict[str, Any]

    @property
    def manifest_name(self) -> str:
        return f"{self.file_name}.manifest.json"

    def manifest_bytes(self) -> bytes:
        return (json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def build_export(
    engine: Engine, event_filter: EventFilter, export_format: ExportFormat | str, exported_by: str
) -> ConsentExport:
    export_format = ExportFormat(export_format)
    head = chain_head(engine)
    verification = verify_chain(engine)
    events = list(iter_events(engine, event_filter, up_to_seq=head.last_seq))
    notices = notice_versions(engine, events)
    rows = [_row(event, notices) for event in events]
    content = _csv(rows) if export_format is ExportFormat.CSV else _json(rows, notices)
    exported_at = utc_now()
    file_name = f"consent-events-{exported_at:%Y%m%dT%H%M%SZ}.{export_format.value}"
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "file": file_name,
        "format": export_format.value,
        "exported_at": exported_at.isoformat(timespec="seconds"),
        "exported_by": exported_by,
        "filters": event_filter.describe(),
        "row_count": len(rows),
        "sha256": sha256_hex_bytes(content),
        "chain_head": {"seq": head.last_seq, "event_hash": head.last_event_hash},
        "chain_anchor": {"seq": head.base_seq, "event_hash": head.base_hash},
        "chain_verified": verification.ok,
    }
    return ConsentExport(file_name=file_name, content=content, manifest=manifest)


def check_export(engine: Engine, content: bytes, manifest: Mapping[str, Any]) -> list[str]:
    """What no longer holds about an export: an empty list means the file is the one exported and the ledger
    still carries every event in it, unchanged."""
    problems = []
    if manifest.get("schema") != MANIFEST_SCHEMA:
        return [f"not a consent export manifest (schema {str(manifest.get('schema'))[:40]!r})"]
    if sha256_hex_bytes(content) != manifest.get("sha256"):
        problems.append("the file's SHA-256 differs from the manifest: the file was changed")
    try:
        rows = _read_rows(content, str(manifest.get("format")))
    except (ValueError, KeyError, TypeError) as error:
        return [*problems, f"the file cannot be read as a consent export: {error}"]
    if len(rows) != manifest.get("row_count"):
        problems.append(f"the file has {len(rows)} rows, the manifest says {manifest.get('row_count')}")
    head = manifest.get("chain_head") or {}
    stored = event_hash_at(engine, _as_seq(head.get("seq")))
    if stored is None:
        problems.append(f"chain head seq {head.get('seq')} is no longer in the ledger (deleted by retention?)")
    elif stored != head.get("event_hash"):
        problems.append(f"the ledger's event seq {head.get('seq')} no longer carries the exported chain head hash")
    for row in rows:
        stored = event_hash_at(engine, _as_seq(row.get("seq")))
        if stored is not None and stored != row.get("event_hash"):
            problems.append(f"event seq {row.get('seq')} differs between the export and the ledger")
    return problems


def sha256_hex_bytes(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _as_seq(value: object) -> int:
    if isinstance(value, bool):
        return -1
    try:
        # whatever the manifest holds: int() refuses what it cannot read
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return -1


def _row(event: ConsentEvent, notices: Mapping[int, NoticeVersion]) -> dict[str, Any]:
    disclosure = notices.get(event.disclosure_version_id) if event.disclosure_version_id else None
    values = {
        **{name: getattr(event, name) for name in COLUMNS if hasattr(event, name)},
        "notice_version": notices[event.notice_version_id].version,
        "disclosure_version": None if disclosure is None else disclosure.version,
    }
    return {name: _plain(values[name]) for name in COLUMNS}


def _plain(value: object) -> object:
    return value.isoformat(timespec="microseconds") if isinstance(value, datetime) else value


def _csv(rows: Iterable[Mapping[str, Any]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        # A cell starting with = + - @ is run as a formula by spreadsheets; a leading quote keeps it text.
        writer.writerow({k: _spreadsheet_safe(v) for k, v in row.items()})
    return buffer.getvalue().encode("utf-8")


def _spreadsheet_safe(value: object) -> object:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def _json(rows: list[dict[str, Any]], notices: Mapping[int, NoticeVersion]) -> bytes:
    document = {
        "events": rows,
        "notices": [
            {"kind": n.kind, "language": n.language, "version": n.version, "sha256": n.sha256, "text": n.text}
            for n in sorted(notices.values(), key=lambda n: (n.kind, n.language, n.version))
        ],
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _read_rows(content: bytes, export_format: str) -> list[dict[str, Any]]:
    text = content.decode("utf-8")
    if export_format == ExportFormat.CSV:
        return list(csv.DictReader(io.StringIO(text, newline="")))
    if export_format == ExportFormat.JSON:
        events = json.loads(text)["events"]
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise ValueError("events is not a list of objects")
        return events
    raise ValueError(f"unknown format {export_format[:20]!r}")
