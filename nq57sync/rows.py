"""A dossier as the store keeps it: one flat row, from a `Dossier` or straight from a file.

Positional on purpose: an import moves millions of them and a tuple is what
`executemany` takes and `marshal` spools, with no object per dossier (building
the `Dossier` of every exported row cost a fifth of an import's time, measured
on 100.000 rows). The layout is `ROW_FIELDS`, the columns of the store's
dossier tables in order: instants as ISO-8601 text in Vietnam time, the raw
record as JSON, the fingerprint last. Everywhere else a dossier is a `Dossier`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from nq57sync.model import Agency, Dossier, Procedure

#: The stored columns, in order; `storage` creates its tables from this.
ROW_FIELDS: tuple[str, ...] = (
    "code", "alt_code", "agency_code", "agency_name", "procedure_code", "procedure_name",
    "field_code", "channel", "status", "channel_raw", "status_raw", "received_at", "due_at",
    "finished_at", "returned_at", "rejected_at", "updated_at", "synced_at", "raw",
    "content_hash",
)
DATE_FIELDS: tuple[str, ...] = ("received_at", "due_at", "finished_at", "returned_at",
                                "rejected_at", "updated_at", "synced_at")
#: Positions a reader of rows needs.
CODE, AGENCY_CODE, RECEIVED_AT = (ROW_FIELDS.index(f) for f in ("code", "agency_code",
                                                               "received_at"))
FIRST_DATE = RECEIVED_AT
#: A dossier with no raw record (every exported row) stores this.
NO_RAW = "{}"

Row = tuple[Any, ...]


def iso(value: dt.datetime | None) -> str | None:
    """An instant as the store writes it."""
    return None if value is None else value.isoformat(timespec="seconds")


def raw_json(raw: Any) -> str:
    """The source's record as JSON; escaped to ASCII only when it holds a lone surrogate
    (SQLite stores UTF-8 text), so it reads back exactly as it came."""
    text = json.dumps(raw, ensure_ascii=False, sort_keys=True, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(raw, ensure_ascii=True, sort_keys=True, default=str)
    return text


def row_of(dossier: Dossier, fingerprint: bytes | None = None) -> Row:
    """`dossier` as a stored row, with its fingerprint (computed unless given)."""
    return (
        dossier.code, dossier.alt_code, dossier.agency.code, dossier.agency.name,
        dossier.procedure.code, dossier.procedure.name, dossier.procedure.field_code,
        int(dossier.channel), int(dossier.status), dossier.channel_raw, dossier.status_raw,
        iso(dossier.received_at), iso(dossier.due_at), iso(dossier.finished_at),
        iso(dossier.returned_at), iso(dossier.rejected_at), iso(dossier.updated_at),
        iso(dossier.synced_at),
        raw_json(dossier.raw) if dossier.raw else NO_RAW,
        dossier.fingerprint() if fingerprint is None else fingerprint,
    )


def dossier_of(row: Row) -> Dossier:
    """A stored row as a `Dossier` (the inverse of `row_of`)."""
    (code, alt_code, agency_code, agency_name, procedure_code, procedure_name, field_code,
     channel, status, channel_raw, status_raw, *dates, raw, _) = row
    instants = {f: dt.datetime.fromisoformat(v) if v else None
                for f, v in zip(DATE_FIELDS, dates, strict=True)}
    return Dossier(code=code, alt_code=alt_code, agency=Agency(agency_code, agency_name),
                   procedure=Procedure(procedure_code, procedure_name, field_code),
                   channel=channel, status=status, channel_raw=channel_raw,
                   status_raw=status_raw, raw=json.loads(raw), **instants)
