"""The snapshot store: every pull, versioned, in one SQLite file.

A dossier is stored once per distinct content: a row in `dossier_versions`
is valid from the snapshot that first saw it to the snapshot that saw it
change or vanish. A re-pull that changes 1% writes 1% of the rows.

A pull is staged in a connection-local TEMP table and applied to the main
tables in one transaction together with the snapshot's `complete` mark, so
readers see all of a snapshot or none of it, and a killed process leaves the
main tables exactly as they were.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import socket
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs

from nq57sync.errors import StoreError, UsageError
from nq57sync.files import alive
from nq57sync.model import (
    DIGEST_LENGTH,
    METRICS,
    VN_TZ,
    Agency,
    AggregateRow,
    Dossier,
    IndexScore,
    Procedure,
    Snapshot,
)
from nq57sync.period import Period
from nq57sync.rows import DATE_FIELDS, ROW_FIELDS, Row, iso, row_of
from nq57sync_storage import lifecycle
from nq57sync_storage.lifecycle import Found, Pair, Plan, RunRecord
from nq57sync_storage.matching import Matched, MatchRequest, match
from nq57sync_storage.schema import (
    COMPACT_VERSIONS,
    CURRENT_DOSSIERS,
    LATEST,
    MIGRATIONS,
    OUTCOME,
    PYTHON_STEPS,
)

_DOSSIER_COLUMNS = ROW_FIELDS
_AGENCY_CODE, _AGENCY_NAME, _PROCEDURE_NAME = (
    ROW_FIELDS.index(c) for c in ("agency_code", "agency_name", "procedure_name"))
_COLUMN_LIST = ", ".join(_DOSSIER_COLUMNS)
_PLACEHOLDERS = ", ".join("?" * len(_DOSSIER_COLUMNS))
#: A staged dossier as a row of `dossier_versions`: names become their ids in `names`.
_INTERNED = {"agency_name": "agency_name_id", "procedure_name": "procedure_name_id"}
_VERSION_COLUMNS = ", ".join(_INTERNED.get(c, c) for c in _DOSSIER_COLUMNS)
_VERSION_VALUES = ", ".join(f"(SELECT id FROM names WHERE name = st.{c})" if c in _INTERNED
                            else f"st.{c}" for c in _DOSSIER_COLUMNS)

_DATE_COLUMNS = DATE_FIELDS


def named(sql: str) -> str:
    """`sql` (rows of `dossier_versions`) with the names its ids stand for."""
    return (f"SELECT x.*, an.name AS agency_name, pn.name AS procedure_name FROM ({sql}) AS x"
            " JOIN names AS an ON an.id = x.agency_name_id"
            " JOIN names AS pn ON pn.id = x.procedure_name_id")


def _import_sqlite_utils() -> ModuleType:
    """sqlite-utils, without the pandas and numpy it imports when they are installed.

    It imports them only to accept their types, which the store never passes;
    with them, every command started 0,75 s later (measured: `python -X
    importtime`, 1,2 s → 0,45 s for `nq57sync.cli`). A program that imported
    them already keeps them. Imported on the first write that uses it (`Store.db`):
    itself 75 ms, and a reconcile or a reading does not need it.
    """
    absent = [name for name in ("pandas", "numpy") if name not in sys.modules]
    for name in absent:
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import sqlite_utils
    finally:
        for name in absent:
            del sys.modules[name]
    return sqlite_utils

def now_local() -> dt.datetime:
    return dt.datetime.now(VN_TZ).replace(microsecond=0)


def _sqlite_message(exc: sqlite3.Error) -> str:
    text = str(exc).lower()
    if "full" in text:
        return "đĩa đã đầy"
    if "locked" in text or "busy" in text:
        return "cơ sở dữ liệu đang bị một tiến trình khác khóa"
    if "not a database" in text or "disk image is malformed" in text:
        return "tệp không phải cơ sở dữ liệu SQLite hợp lệ hoặc đã hỏng"
    if "readonly" in text or "unable to open" in text:
        return "không có quyền ghi hoặc không mở được tệp"
    return f"lỗi SQLite ({exc.__class__.__name__})"


def dossier_from_row(row: sqlite3.Row | dict[str, Any]) -> Dossier:
    dates = {c: dt.datetime.fromisoformat(row[c]) if row[c] else None for c in _DATE_COLUMNS}
    return Dossier(
        code=row["code"],
        alt_code=row["alt_code"],
        agency=Agency(row["agency_code"], row["agency_name"]),
        procedure=Procedure(row["procedure_code"], row["procedure_name"], row["field_code"]),
        channel=row["channel"],
        status=row["status"],
        status_raw=row["status_raw"],
        channel_raw=row["channel_raw"],
        raw=json.loads(row["raw"]),
        **dates,
    )


def _period_from(row: dict[str, Any], prefix: str = "period_") -> Period:
    return Period(
        dt.date.fromisoformat(row[f"{prefix}start"]),
        dt.date.fromisoformat(row[f"{prefix}end"]),
        row[f"{prefix}convention"],
        row.get(f"{prefix}label") or "",
    )


#: Snapshots this process is writing right now, as (store file, snapshot id).
_ACTIVE: set[tuple[str, int]] = set()


#: JSON's `->>` operator (3.38) is used by reconciliation.
MIN_SQLITE = (3, 38)


class Store:
    """One SQLite file; open it, and it is migrated to the current schema."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreError(
                f"nq57sync cần SQLite {'.'.join(map(str, MIN_SQLITE))} trở lên (toán tử JSON ->>);"
                f" Python này dùng SQLite {sqlite3.sqlite_version}.")
        with self._errors("mở"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._connect()
            conn.row_factory = sqlite3.Row
            self.conn = conn
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()

    @functools.cached_property
    def db(self) -> Any:  # sqlite_utils.Database
        """sqlite-utils over the store's connection, for writes by column name."""
        return _import_sqlite_utils().Database(self.conn)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        # Let SQLite's sorter (index builds, ORDER BY, GROUP BY) use the other cores:
        # measured 20% off a million-dossier reconciliation on two cores.
        conn.execute(f"PRAGMA threads = {min(4, os.cpu_count() or 1)}")
        return conn

    @contextlib.contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """A second connection, for set-based work to run beside the store's own (any thread)."""
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(
                f"Không {action} được kho dữ liệu {self.path}: {_sqlite_message(exc)}."
            ) from exc
        except OSError as exc:
            raise StoreError(
                f"Không {action} được kho dữ liệu {self.path}: {exc.strerror or exc}."
            ) from exc

    @contextlib.contextmanager
    def transaction(self, *, enforce_foreign_keys: bool = True) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception.

        `enforce_foreign_keys=False` is for bulk writes whose references all point
        at rows of the same transaction: SQLite looks up the parent of every row
        (measured: 0.6 s of 0.9 s writing 40,000 discrepancies).
        """
        with self._errors("ghi"):
            if not enforce_foreign_keys:
                self.conn.execute("PRAGMA foreign_keys = OFF")
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.conn
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise
                self.conn.execute("COMMIT")
            finally:
                if not enforce_foreign_keys:
                    self.conn.execute("PRAGMA foreign_keys = ON")

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        with self._errors("đọc"):
            return [dict(row) for row in self.conn.execute(sql, params)]

    def schema_version(self) -> int:
        row = self.conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return row[0] or 0

    def _migrate(self) -> None:
        with contextlib.suppress(sqlite3.OperationalError):  # no table: a new store
            if self.schema_version() == LATEST:
                return
        self.db.table("schema_migrations").create(
            {"version": int, "applied_at": str}, pk="version", not_null={"applied_at"},
            if_not_exists=True)
        current = self.schema_version()
        if current > LATEST:
            raise StoreError(
                f"Kho dữ liệu {self.path} có lược đồ phiên bản {current}, mới hơn phiên bản "
                f"{LATEST} mà bản nq57sync này hiểu; hãy cập nhật nq57sync."
            )
        for version in range(current + 1, LATEST + 1):
            # Off, as SQLite asks while a table is rebuilt (migration 10); checked after.
            with self.transaction(enforce_foreign_keys=False) as conn:
                if self.schema_version() >= version:
                    continue  # another process opening the store applied it meanwhile
                for statement in _split_sql(MIGRATIONS[version]):
                    conn.execute(statement)
                if version in PYTHON_STEPS:
                    getattr(self, PYTHON_STEPS[version])(conn)
                self.db.table("schema_migrations").insert(
                    {"version": version, "applied_at": iso(now_local())})

    @staticmethod
    def _refingerprint(conn: sqlite3.Connection) -> None:
        """Recompute the current versions' fingerprints (migration 6), in pages; migration
        10 turns them into bytes with the rest."""
        last = 0
        while True:
            rows = conn.execute(
                "SELECT * FROM dossier_versions WHERE valid_to IS NULL AND id > ?"
                " ORDER BY id LIMIT 10000", (last,)).fetchall()
            if not rows:
                return
            conn.executemany("UPDATE dossier_versions SET content_hash = ? WHERE id = ?",
                             [(dossier_from_row(r).content_hash(), r["id"]) for r in rows])
            last = rows[-1]["id"]

    @staticmethod
    def _compact_versions(conn: sqlite3.Connection) -> None:
        """Migration 10: `dossier_versions` rebuilt with names interned and fingerprints
        as bytes (measured on a million dossiers: 453 → ~400 bytes a dossier)."""
        conn.create_function("unhex", 1, bytes.fromhex, deterministic=True)  # SQLite < 3.41
        if not _is_compact(conn):  # (a second process opening the store may find it done)
            for statement in _split_sql(COMPACT_VERSIONS):
                conn.execute(statement)
        for statement in _split_sql(CURRENT_DOSSIERS):
            conn.execute(statement)
        problems = conn.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            path = conn.execute("PRAGMA database_list").fetchone()[2]
            raise StoreError(f"Kho dữ liệu {path} có {len(problems)} tham chiếu hỏng sau khi nâng"
                             " cấp; bước nâng cấp này đã được hoàn tác.")

    # -- snapshots --------------------------------------------------------

    def begin_snapshot(
        self,
        *,
        source: str,
        plugin: str,
        period: Period,
        kind: str = "pull",
        agencies: Iterable[str] = (),
    ) -> SnapshotWriter:
        """Register a running pull; nothing of it is visible until it completes."""
        scope_codes = sorted(set(agencies))
        scope = json.dumps(scope_codes, ensure_ascii=False) if scope_codes else "*"
        self.recover_interrupted()
        with self.transaction() as conn:
            busy = conn.execute(
                "SELECT id FROM snapshots WHERE source = ? AND state = 'running'", (source,)
            ).fetchone()
            if busy:
                raise UsageError(
                    f"Nguồn “{source}” đang có một lượt đồng bộ khác chạy "
                    f"(ảnh chụp số {busy[0]}); hãy đợi lượt đó kết thúc."
                )
            cursor = conn.execute(
                "INSERT INTO snapshots (source, plugin, kind, scope, period_start, period_end,"
                " period_convention, period_label, state, started_at, pid, host)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                (source, plugin, kind, scope, period.start.isoformat(), period.end.isoformat(),
                 period.convention, period.label, iso(now_local()), os.getpid(),
                 socket.gethostname()),
            )
        return SnapshotWriter(self, int(cursor.lastrowid or 0), source, scope, period)

    def recover_interrupted(self) -> list[int]:
        """Mark running snapshots whose writer is gone (on this host) as failed.

        Gone means its process died, or it is this process and no writer holds
        it (marking it failed was impossible at the time, e.g. a full disk).
        """
        host, me = socket.gethostname(), os.getpid()
        stale = [
            row["id"] for row in self.query(
                "SELECT id, pid FROM snapshots WHERE state = 'running' AND host = ?", (host,))
            if not row["pid"] or not alive(row["pid"])
            or (row["pid"] == me and (str(self.path), row["id"]) not in _ACTIVE)
        ]
        if stale:
            with self.transaction() as conn:
                conn.executemany(
                    "UPDATE snapshots SET state = 'failed', finished_at = ?, error = ?"
                    " WHERE id = ? AND state = 'running'",
                    [(iso(now_local()), "Lượt đồng bộ bị gián đoạn giữa chừng.", i) for i in stale],
                )
        return stale

    def snapshots(self, source: str | None = None, limit: int | None = None) -> list[Snapshot]:
        sql = "SELECT * FROM snapshots"
        params: list[Any] = []
        if source:
            sql += " WHERE source = ?"
            params.append(source)
        sql += " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_snapshot_from(row) for row in self.query(sql, params)]

    def snapshot(self, snapshot_id: int) -> Snapshot:
        with self._errors("đọc"):
            rows = self.query("SELECT * FROM snapshots WHERE id = ?", (snapshot_id,))
        if not rows:
            raise UsageError(f"Không có ảnh chụp số {snapshot_id} trong kho {self.path}.")
        return _snapshot_from(rows[0])

    def latest_complete(self, source: str, period: Period | None = None) -> Snapshot | None:
        sql = "SELECT * FROM snapshots WHERE source = ? AND state = 'complete'"
        params: list[Any] = [source]
        if period is not None:
            sql += " AND period_start = ? AND period_end = ?"
            params += [period.start.isoformat(), period.end.isoformat()]
        rows = self.query(sql + " ORDER BY id DESC LIMIT 1", params)
        return _snapshot_from(rows[0]) if rows else None

    def complete_overlapping(self, source: str, period: Period) -> list[Snapshot]:
        """The source's complete snapshots whose period shares a day with `period`, newest first."""
        rows = self.query(
            "SELECT * FROM snapshots WHERE source = ? AND state = 'complete'"
            " AND period_start <= ? AND period_end >= ? ORDER BY id DESC",
            (source, period.end.isoformat(), period.start.isoformat()))
        return [_snapshot_from(row) for row in rows]

    def sources(self) -> list[str]:
        """Every source the store has snapshots of."""
        return [r["source"] for r in self.query("SELECT DISTINCT source FROM snapshots")]

    def open_by_kind(self) -> dict[str, int]:
        """Open discrepancies per kind, most first."""
        return {row["kind"]: row["n"] for row in self.query(
            "SELECT kind, count(*) AS n FROM discrepancies WHERE state = 'open' GROUP BY kind"
            " ORDER BY n DESC")}

    def agency_names(self, snapshot_ids: Iterable[int], source: str) -> dict[str, str]:
        """Agency names from the snapshots' published figures and the source's dossiers."""
        ids = json.dumps(sorted(set(snapshot_ids)))
        rows = self.query(
            "SELECT DISTINCT agency_code, agency_name FROM aggregates WHERE snapshot_id IN"
            " (SELECT value FROM json_each(?))"
            " UNION SELECT code, name FROM agencies WHERE source = ?",
            (ids, source))
        return {r["agency_code"]: r["agency_name"] for r in rows if r["agency_name"]}

    def index_snapshots(self, up_to: int, limit: int = 2) -> list[Snapshot]:
        """The newest complete snapshots holding 766 scores, up to a snapshot id."""
        rows = self.query(
            "SELECT * FROM snapshots WHERE state = 'complete' AND index_count > 0 AND id <= ?"
            " ORDER BY id DESC LIMIT ?", (up_to, limit))
        return [_snapshot_from(row) for row in rows]

    def previous_complete(self, snap: Snapshot) -> Snapshot | None:
        """The source's complete snapshot of exactly the same period before `snap`."""
        rows = self.query(
            "SELECT * FROM snapshots WHERE source = ? AND state = 'complete' AND id < ?"
            " AND period_start = ? AND period_end = ? ORDER BY id DESC LIMIT 1",
            (snap.source, snap.id, snap.period.start.isoformat(), snap.period.end.isoformat()))
        return _snapshot_from(rows[0]) if rows else None

    def reconciled(self, left_snapshot: int, right_snapshot: int, period: Period) -> bool:
        """Whether a run already compared exactly these snapshots for the period."""
        return bool(self.query(
            "SELECT 1 FROM reconcile_runs WHERE left_snapshot = ? AND right_snapshot = ?"
            " AND period_start = ? AND period_end = ? LIMIT 1",
            (left_snapshot, right_snapshot, period.start.isoformat(), period.end.isoformat())))

    # -- reading ----------------------------------------------------------

    def dossiers_as_of(self, snapshot_id: int, *, within_scope: bool = True) -> Iterator[Dossier]:
        """The source's dossiers as that snapshot saw them: one query."""
        sql, params = self.as_of_sql(snapshot_id, within_scope=within_scope)
        with self._errors("đọc"):
            for row in self.conn.execute(named(sql), params):
                yield dossier_from_row(row)

    def as_of_sql(self, snapshot_id: int, *, within_scope: bool = True) -> tuple[str, dict[str, Any]]:
        """SQL selecting the `dossier_versions` rows valid at a snapshot.

        Other set-based work (reconciliation) uses it as a sub-query.
        """
        snap = self.snapshot(snapshot_id)
        sql = (
            "SELECT * FROM dossier_versions WHERE source = :as_of_source"
            " AND valid_from <= :as_of_id AND (valid_to IS NULL OR valid_to > :as_of_id)"
        )
        params: dict[str, Any] = {"as_of_source": snap.source, "as_of_id": snap.id}
        if within_scope:
            sql += " AND received_at >= :as_of_start AND received_at < :as_of_end"
            params["as_of_start"] = snap.period.start.isoformat()
            params["as_of_end"] = (snap.period.end + dt.timedelta(days=1)).isoformat()
            if snap.scope != "*":
                sql += " AND agency_code IN (SELECT value FROM json_each(:as_of_scope))"
                params["as_of_scope"] = snap.scope
        return sql, params

    def standard_form(self, snapshot_id: int, period: Period, agencies: Iterable[str],
                      reference: dt.datetime, *, paused_pending: bool = True
                      ) -> dict[str, dict[str, Any]]:
        """Every standard-form figure of `period` recomputed from the source's dossiers.

        The dossiers are those valid as of the snapshot, received by the period's
        end, of the given agencies; the definitions are `_form_cells`'. Besides
        the METRICS each agency has `paused` (dossiers waiting for a supplement
        or a financial obligation, whose counting is a matter of definition) and
        `first_carried` (the earliest received day among those carried over).
        """
        cells = _form_cells(paused_pending)
        query = (self._form_dossiers(snapshot_id) + " SELECT agency_code, "
                 + ", ".join(f"sum({expr}) AS {name}" for name, expr in cells.items())
                 + ", min(CASE WHEN carried THEN substr(received_at, 1, 10) END) AS first_carried"
                 " FROM d GROUP BY agency_code")
        params = self._form_params(snapshot_id, period, agencies, reference)
        out: dict[str, dict[str, Any]] = {
            code: {**dict.fromkeys(cells, 0), "first_carried": None}
            for code in json.loads(params["agencies"])}
        with self._errors("đọc"):
            for row in self.conn.execute(query, params):
                out[row["agency_code"]] = {**{k: int(row[k] or 0) for k in cells},
                                           "first_carried": row["first_carried"]}
        return out

    def standard_form_members(self, snapshot_id: int, period: Period, agency: str, metric: str,
                              reference: dt.datetime, *, paused_pending: bool = True,
                              limit: int = 10) -> list[str]:
        """The codes of the dossiers `standard_form` counts in one agency's figure."""
        expr = _form_cells(paused_pending)[metric]
        query = (self._form_dossiers(snapshot_id)
                 + f" SELECT code FROM d WHERE agency_code = :agency AND {expr}"
                 " ORDER BY code LIMIT :limit")
        params = {**self._form_params(snapshot_id, period, [agency], reference),
                  "agency": agency, "limit": limit}
        with self._errors("đọc"):
            return [row[0] for row in self.conn.execute(query, params)]

    def _form_dossiers(self, snapshot_id: int) -> str:
        sql, _ = self.as_of_sql(snapshot_id, within_scope=False)
        return (
            "WITH d AS MATERIALIZED (SELECT code, agency_code, channel, status, received_at,"
            " due_at, finished_at, received_at < :start AND NOT (coalesce(finished_at < :start, 0)"
            " OR status IN (3, 7)) AS carried"
            f" FROM ({sql}) WHERE received_at < :end_next"
            " AND agency_code IN (SELECT value FROM json_each(:agencies)))")

    def _form_params(self, snapshot_id: int, period: Period, agencies: Iterable[str],
                     reference: dt.datetime) -> dict[str, Any]:
        _, params = self.as_of_sql(snapshot_id, within_scope=False)
        reference = reference.astimezone(VN_TZ)
        return {**params, "start": period.start.isoformat(),
                "end_next": (period.end + dt.timedelta(days=1)).isoformat(),
                "reference": iso(reference), "reference_day": reference.date().isoformat(),
                "agencies": json.dumps(sorted(set(agencies)))}

    def aggregates(self, snapshot_id: int) -> list[AggregateRow]:
        rows = self.query(
            "SELECT * FROM aggregates WHERE snapshot_id = ? ORDER BY agency_code, period_start",
            (snapshot_id,))
        return [
            AggregateRow(
                Agency(r["agency_code"], r["agency_name"]), _period_from(r),
                **{m: r[m] for m in METRICS},
            )
            for r in rows
        ]

    def index_scores(self, snapshot_id: int) -> list[IndexScore]:
        with self._errors("đọc"):
            rows = list(self.db.table("index_scores").rows_where(
                "snapshot_id = ?", [snapshot_id], order_by="rank"))
        return [
            IndexScore(r["unit_id"], r["name"], r["agency_code"], r["level"], r["rank"],
                       json.loads(r["groups"]), r["total"])
            for r in rows
        ]

    def version_count(self, source: str | None = None) -> int:
        versions = self.db.table("dossier_versions")
        with self._errors("đọc"):
            return versions.count_where("source = ?", [source]) if source else versions.count

    def monthly_trend(self, source: str, months: int = 12) -> list[dict[str, Any]]:
        """Received, resolved and late by month of receipt, from current versions."""
        rows = self.query(
            "SELECT substr(received_at, 1, 7) AS month, count(*) AS received,"
            " sum(finished_at IS NOT NULL) AS resolved,"
            " coalesce(sum(finished_at IS NOT NULL AND substr(finished_at, 1, 10)"
            " > substr(due_at, 1, 10)), 0) AS late FROM dossier_current"
            " WHERE source = ? AND received_at IS NOT NULL"
            " GROUP BY month ORDER BY month DESC LIMIT ?", (source, months))
        return rows[::-1]

    # -- reconciliation ---------------------------------------------------

    def match(self, request: MatchRequest, *, remember: bool = False) -> Matched:
        """What matching a reconciliation's two sides finds (`matching.match`)."""
        return match(self, request, remember=remember)

    def plan_discrepancies(self, pair: Pair, found: Sequence[Found], now: str) -> Plan:
        """The states recording these discrepancies would give, and the open ones gone. Reads only."""
        with self._errors("đọc"):
            return lifecycle.plan(self.conn, pair, found, now)

    def record_reconcile(self, run: RunRecord, pair: Pair, found: Sequence[Found]
                         ) -> tuple[int, Plan]:
        """Record a run and its discrepancies' lifecycle in one transaction: (run id, plan)."""
        # The run's id is this transaction's own, so per-row key checks would only cost.
        with self.transaction(enforce_foreign_keys=False) as conn:
            return lifecycle.record(conn, run, pair, found)

    # -- retention and the daemon's bookkeeping ----------------------------

    def prune(self, retention_days: int) -> dict[str, int]:
        """Forget what was superseded before the retention window; current data stays."""
        cutoff = iso(now_local() - dt.timedelta(days=retention_days))
        with self.transaction() as conn:
            versions = conn.execute(
                "DELETE FROM dossier_versions WHERE valid_to IN"
                " (SELECT id FROM snapshots WHERE finished_at < ? AND state = 'complete')",
                (cutoff,)).rowcount
            failed = conn.execute(
                "DELETE FROM snapshots WHERE state = 'failed' AND started_at < ?", (cutoff,)).rowcount
            budget = conn.execute("DELETE FROM request_budget WHERE day < ?",
                                  (cutoff[:10],)).rowcount
        return {"versions": versions, "failed_snapshots": failed, "budget_days": budget}

    def record_job(self, job_id: str, status: str, error: str | None = None,
                   next_run: dt.datetime | None = None) -> int:
        """Remember a daemon job's run; returns its consecutive failures."""
        now = iso(now_local())
        jobs = self.db.table("daemon_jobs")
        with self.transaction():
            before = next(jobs.rows_where("job_id = ?", [job_id]), {})
            failures = int(before.get("failures") or 0)
            failures = failures + 1 if status == "failed" else 0 if status == "ok" else failures
            row = {"job_id": job_id, "last_run": now, "last_status": status, "last_error": error,
                   "failures": failures, "updated_at": now}
            if next_run is not None:
                row["next_run"] = iso(next_run)
            jobs.upsert(row, pk="job_id")
        return failures

    def set_next_run(self, job_id: str, next_run: dt.datetime | None) -> None:
        with self.transaction():
            self.db.table("daemon_jobs").upsert(
                {"job_id": job_id, "next_run": iso(next_run), "updated_at": iso(now_local())},
                pk="job_id")

    def jobs(self) -> list[dict[str, Any]]:
        with self._errors("đọc"):
            return list(self.db.table("daemon_jobs").rows_where(order_by="job_id"))

    # -- health -----------------------------------------------------------

    def integrity_check(self) -> list[str]:
        """Problems `PRAGMA integrity_check` finds; empty when the file is sound."""
        with self._errors("kiểm tra"):
            rows = [r[0] for r in self.conn.execute("PRAGMA integrity_check")]
            rows += [f"khóa ngoại: {tuple(r)}" for r in self.conn.execute("PRAGMA foreign_key_check")]
        return [] if rows == ["ok"] else [r for r in rows if r != "ok"]

    def size_bytes(self) -> int:
        return sum(
            p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists()
        )


def _snapshot_from(row: dict[str, Any]) -> Snapshot:
    return Snapshot(
        id=row["id"], source=row["source"], plugin=row["plugin"], kind=row["kind"],
        scope=row["scope"], period=_period_from(row), state=row["state"],
        started_at=dt.datetime.fromisoformat(row["started_at"]),
        finished_at=dt.datetime.fromisoformat(row["finished_at"]) if row["finished_at"] else None,
        dossier_count=row["dossier_count"], aggregate_count=row["aggregate_count"],
        index_count=row["index_count"], versions_added=row["versions_added"],
        content_hash=row["content_hash"], error=row["error"],
    )


def _form_cells(paused_pending: bool) -> dict[str, str]:
    """SQL truth, per dossier of `Store._form_dossiers`, of its counting in each figure.

    The standard form's definitions (domain.md): carried over = received before
    the period and not closed before it; new receipts by channel; rejected
    (status 3) and withdrawn (7) by status; resolved = status 9 or 10 finished
    by `:reference`, early / on time / late by the finish day against the due
    day; every other dossier counted is pending, overdue once its due day is
    before `:reference_day`. Paused dossiers (5, 6) are pending unless
    `paused_pending` is false.
    """
    new = "received_at >= :start"
    counted = f"({new} OR carried)"
    resolved = "status IN (9, 10) AND finished_at IS NOT NULL AND finished_at <= :reference"
    finish, due = "substr(finished_at, 1, 10)", "substr(due_at, 1, 10)"
    pending = (f"{counted} AND status NOT IN (3, 7) AND NOT ({resolved})"
               + ("" if paused_pending else " AND status NOT IN (5, 6)"))
    overdue = f"due_at IS NOT NULL AND {due} < :reference_day"
    return {
        "carried_over": "carried",
        "received_online": f"{new} AND channel = 2",
        "received_direct": f"{new} AND channel = 1",
        "received_postal": f"{new} AND channel NOT IN (1, 2)",
        "received_total": counted,
        "resolved_early": f"{counted} AND {resolved} AND {finish} < {due}",
        "resolved_on_time": f"{counted} AND {resolved} AND ({finish} = {due} OR due_at IS NULL)",
        "resolved_late": f"{counted} AND {resolved} AND {finish} > {due}",
        "resolved_total": f"{counted} AND {resolved}",
        "pending_in_time": f"{pending} AND NOT ({overdue})",
        "pending_overdue": f"{pending} AND {overdue}",
        "pending_total": pending,
        "withdrawn": f"{counted} AND status = 7",
        "rejected": f"{counted} AND status = 3",
        "paused": f"{counted} AND status IN (5, 6) AND NOT ({resolved})",
    }


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _recount(conn: sqlite3.Connection, rows: str, sign: int, params: dict[str, Any]) -> None:
    """Count `rows` (current dossiers, or versions) into `dossier_counts`, or out of it."""
    conn.execute(
        "INSERT INTO dossier_counts AS c SELECT source, substr(received_at, 1, 10),"
        f" agency_code, channel, status = 7, {OUTCOME}, {sign:d} * count(*) FROM ({rows})"
        " WHERE received_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6"
        " ON CONFLICT DO UPDATE SET n = c.n + excluded.n", params)


def _is_compact(conn: sqlite3.Connection) -> bool:
    """Whether `dossier_versions` has migration 10's shape (names as ids)."""
    return any(row[1] == "agency_name_id"
               for row in conn.execute("PRAGMA table_info(dossier_versions)"))


#: What `dossier_current` keeps of a version (schema migration 8).
_CURRENT_COLUMNS = ("code, alt_code, agency_code, procedure_code, channel, status, received_at,"
                    " due_at, finished_at, returned_at, updated_at")
#: A version lies in the pull's period and agencies (parameters from `_scope_params`).
_IN_SCOPE = ("k.received_at >= :start AND k.received_at < :end_next"
             " AND (:everywhere OR k.agency_code IN (SELECT value FROM json_each(:scope)))")


@attrs.frozen
class _ComparedPage:
    """A page waiting to be staged while its comparison with the current versions runs."""

    rows: dict[str, Row]
    repeats: list[str]  # codes an earlier page of the pull listed too
    codes: str  # JSON list, in listing order
    comparison: Future[tuple[list[str], int]]


class SnapshotWriter:
    """Collects one pull and applies it atomically.

    Use as a context manager: leaving the block normally completes the
    snapshot, an exception marks it failed and discards everything staged.
    """

    def __init__(self, store: Store, snapshot_id: int, source: str, scope: str,
                 period: Period) -> None:
        self.store = store
        self.id = snapshot_id
        self.source = source
        self.scope = scope
        self.period = period
        # Every code the pull listed, and the full rows of those that changed.
        self.seen = f"temp.seen_{snapshot_id}"
        self.staging = f"temp.staging_{snapshot_id}"
        self._aggregates: list[AggregateRow] = []
        self._scores: list[IndexScore] = []
        self._fingerprint_sum = 0
        self._seen_keys: set[int] = set()
        self._repeats = False
        self._staging_indexed = False
        self._names: set[str] = set()
        self._agencies: dict[str, str] = {}
        self._listed = 0
        self._listed_in_scope = 0
        self.result: Snapshot | None = None
        self._compared: _ComparedPage | None = None
        self._closing = contextlib.ExitStack()
        _ACTIVE.add((str(store.path), snapshot_id))
        with store._errors("ghi"):
            # Staging lives in the TEMP database: 64 MB of cache keeps an import of a million
            # rows under 300 MB and was as fast as 256 MB (which peaked at 500 MB).
            store.conn.execute("PRAGMA temp.cache_size = -65536")
            store.conn.execute(f"CREATE TABLE {self.seen} (code TEXT NOT NULL)")
            store.conn.execute(
                f"CREATE TABLE {self.staging} (code TEXT NOT NULL, "
                + ", ".join(_DOSSIER_COLUMNS[1:]) + ")"
            )
            # Comparisons run beside fingerprinting, on a connection of their own; the
            # pool is shut down (waiting for a running one) before that connection closes.
            self._reader = self._closing.enter_context(store.reader())
            self._lookup = self._closing.enter_context(ThreadPoolExecutor(1))

    def __enter__(self) -> SnapshotWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:
        if exc is None:
            try:
                self.commit()
            except BaseException as failure:
                self.fail(str(failure))
                raise
        else:
            self.fail(str(exc) if isinstance(exc, Exception) else "Bị dừng.")

    def add_dossiers(self, dossiers: Iterable[Dossier]) -> int:
        """Stage a page of dossiers (see `add_rows`)."""
        return self.add_rows([row_of(d) for d in dossiers])

    def add_rows(self, rows: Iterable[Row]) -> int:
        """Stage a page of stored rows (`nq57sync.rows`); a dossier seen twice in one pull
        keeps its last copy.

        Only dossiers whose content differs from their current version are
        staged in full; unchanged ones leave just their code, which is what
        makes a re-pull cheap. The page also counts how many current dossiers
        of the pull's scope it listed, so that `commit` can tell without a
        scan whether any of them vanished.

        The comparison with the current versions runs on a second connection
        while the caller fetches or parses the next page (SQLite works without
        the GIL); its result is staged by the next call, or by `commit`.
        """
        rows = list(rows)
        # Every row listed counts, a repeated one each time: the sum is then the same
        # whatever the pages are (a page keeps one copy of a code, a pull all of them).
        self._fingerprint_sum += sum(int.from_bytes(row[-1]) for row in rows)
        page = {row[0]: row for row in rows}
        digests = [row[-1] for row in page.values()]
        keys = [hash(code) for code in page]
        seen = self._seen_keys
        repeats = [code for code, key in zip(page, keys, strict=True) if key in seen]
        seen.update(keys)
        self._repeats = self._repeats or bool(repeats)
        codes = json.dumps(list(page), ensure_ascii=False)
        comparison = self._lookup.submit(self._compare, codes, b"".join(digests))
        self._stage_compared()
        self._compared = _ComparedPage(page, repeats, codes, comparison)
        self._listed += len(page)
        return len(page)

    def _compare(self, codes: str, digests: bytes) -> tuple[list[str], int]:
        """The page's codes whose fingerprint differs from the current version's (or that
        have none), and how many current dossiers of the pull's scope it listed.

        `codes` is a JSON list; `digests` their fingerprints end to end, in the same
        order: cheaper to build than a JSON object, and a BLOB, so that SQLite finds
        one by its byte offset rather than by counting characters.
        """
        with self.store._errors("đọc"):
            # One row back, so this thread needs the GIL once, not once per dossier.
            changed, in_scope = self._reader.execute(
                "SELECT json_group_array(c.value) FILTER (WHERE v.content_hash IS NOT"
                " substr(:digests, c.key * :width + 1, :width)),"
                f" count(*) FILTER (WHERE {_IN_SCOPE})"
                " FROM json_each(:codes) AS c LEFT JOIN dossier_current AS k"
                " ON k.source = :s AND k.code = c.value"
                " LEFT JOIN dossier_versions AS v ON v.id = k.version_id",
                {**self._scope_params(), "codes": codes, "digests": digests,
                 "width": DIGEST_LENGTH // 2}).fetchone()
        return json.loads(changed), in_scope

    def _stage_compared(self) -> None:
        """Stage the page compared last: its codes, and the rows of those that changed."""
        if self._compared is None:
            return
        page, self._compared = self._compared, None
        changed, in_scope = page.comparison.result()
        conn = self.store.conn
        with self.store._errors("ghi"):
            conn.execute("BEGIN")
            try:
                conn.execute(f"INSERT INTO {self.seen} SELECT value FROM json_each(?)",
                             (page.codes,))
                if page.repeats:  # an earlier page staged it; its last copy may be unchanged
                    if not self._staging_indexed:
                        conn.execute(f"CREATE UNIQUE INDEX {self.staging}_code"
                                     f" ON {self.staging[5:]} (code)")
                        self._staging_indexed = True
                    conn.executemany(f"DELETE FROM {self.staging} WHERE code = ?",
                                     [(c,) for c in page.repeats])
                # A heap, keyed only once a code repeats: a page holds each code once, and
                # keeping a key on a million random codes took 30% of a first import.
                staged = [page.rows[c] for c in changed]
                conn.executemany(
                    f"INSERT INTO {self.staging} ({_COLUMN_LIST})"
                    f" VALUES ({_PLACEHOLDERS})", staged)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        self._listed_in_scope += in_scope
        self._note_names((row[_AGENCY_CODE], row[_AGENCY_NAME], row[_PROCEDURE_NAME])
                         for row in staged)

    def _note_names(self, rows: Iterable[tuple[str, str, str]]) -> None:
        """Note the staged rows' names and their agencies' (agency code, agency name,
        procedure name): a few hundred in a million rows, which SQL found by sorting the
        staging table twice at commit (8% of an import)."""
        names, agencies = self._names, self._agencies
        for code, agency_name, procedure_name in rows:
            names.add(agency_name)
            names.add(procedure_name)
            if agency_name:
                known = agencies.get(code)
                if known is None or agency_name > known:
                    agencies[code] = agency_name

    def _scope_params(self) -> dict[str, Any]:
        return {"n": self.id, "s": self.source, "start": self.period.start.isoformat(),
                "end_next": (self.period.end + dt.timedelta(days=1)).isoformat(),
                "everywhere": self.scope == "*",
                "scope": "[]" if self.scope == "*" else self.scope}

    def add_aggregates(self, rows: Iterable[AggregateRow]) -> None:
        self._aggregates.extend(rows)

    def add_index_scores(self, rows: Iterable[IndexScore]) -> None:
        self._scores.extend(rows)

    def _content_hash(self) -> str:
        """Order-independent: the sum of the dossiers' fingerprints, then the rest."""
        digest = hashlib.blake2b(digest_size=16)
        digest.update(f"{self._fingerprint_sum % 2**128:032x}".encode())
        for agg in sorted(self._aggregates, key=lambda a: (a.agency.code, a.period.start)):
            digest.update(repr((agg.agency.code, agg.period.start, agg.metrics())).encode())
        for score in sorted(self._scores, key=lambda s: s.unit_id):
            digest.update(repr((score.unit_id, sorted(score.groups.items()), score.total)).encode())
        return digest.hexdigest()

    def commit(self) -> Snapshot:
        """Apply the staged pull to the version tables and mark it complete."""
        self._stage_compared()
        params = self._scope_params()
        with self.store.transaction() as conn:
            in_scope = conn.execute(
                f"SELECT count(*) FROM dossier_current AS k WHERE k.source = :s AND {_IN_SCOPE}",
                params).fetchone()[0]
            count = self._listed
            if self._repeats:
                conn.execute(f"CREATE INDEX {self.seen}_code ON {self.seen[5:]} (code)")
                count = conn.execute(f"SELECT count(DISTINCT code) FROM {self.seen}").fetchone()[0]
            # What leaves the current state: each changed dossier (found through
            # `dossier_current`, which points at its version) …
            leaving = self.staging + "_leaving"
            conn.execute(
                f"CREATE TABLE {leaving} AS SELECT k.* FROM {self.staging} AS st"
                # CROSS: the staged rows outside, looked up by key (staging has no index,
                # and the planner, free, scanned a million current rows for each).
                " CROSS JOIN dossier_current AS k ON k.source = :s AND k.code = st.code"
                " JOIN dossier_versions AS v ON v.id = k.version_id"
                " WHERE v.content_hash <> st.content_hash", params)
            # … and each dossier of this scope the source no longer lists (the counts
            # tell whether any vanished, sparing the scan in the usual case). Their
            # versions are closed, and they are counted out.
            vanished = self._repeats or self._listed_in_scope != in_scope
            if vanished:
                if not self._repeats:
                    conn.execute(f"CREATE INDEX {self.seen}_code ON {self.seen[5:]} (code)")
                gone = (f"k.source = :s AND {_IN_SCOPE}"
                        f" AND k.code NOT IN (SELECT code FROM {self.seen})")
                conn.execute(f"INSERT INTO {leaving} SELECT k.* FROM dossier_current AS k"
                             f" WHERE {gone}", params)
                conn.execute(f"DELETE FROM dossier_current AS k WHERE {gone}", params)
            closed = conn.execute(
                "UPDATE dossier_versions SET valid_to = :n WHERE id IN"
                f" (SELECT version_id FROM {leaving})", params).rowcount
            _recount(conn, f"SELECT * FROM {leaving}", -1, params)
            # Every new or changed dossier gets a current version, its names stored once …
            if self._staging_indexed:  # a repeated code replaced staged rows: note afresh
                self._names, self._agencies = set(), {}
                self._note_names(conn.execute(
                    f"SELECT agency_code, agency_name, procedure_name FROM {self.staging}"))
            conn.executemany("INSERT OR IGNORE INTO names (name) VALUES (?)",
                             [(name,) for name in sorted(self._names)])
            added = conn.execute(
                f"INSERT INTO dossier_versions ({_VERSION_COLUMNS}, source, valid_from)"
                f" SELECT {_VERSION_VALUES}, :s, :n FROM {self.staging} AS st WHERE NOT EXISTS"
                " (SELECT 1 FROM dossier_current AS k JOIN dossier_versions AS v"
                " ON v.id = k.version_id WHERE k.source = :s AND k.code = st.code"
                " AND v.valid_to IS NULL)", params).rowcount
            # … which the current state takes up, in key order, and the counts count in.
            new = "SELECT * FROM dossier_versions WHERE source = :s AND valid_from = :n"
            conn.execute(
                f"INSERT OR REPLACE INTO dossier_current (source, {_CURRENT_COLUMNS}, version_id)"
                f" SELECT source, {_CURRENT_COLUMNS}, id FROM ({new}) ORDER BY code", params)
            _recount(conn, new, 1, params)
            conn.execute("DELETE FROM dossier_counts WHERE source = :s AND n = 0", params)
            conn.executemany("INSERT OR REPLACE INTO agencies VALUES (?, ?, ?)",
                             [(self.source, code, name)
                              for code, name in sorted(self._agencies.items())])
            if added or closed:  # what a reconcile may have kept of this source is stale
                conn.execute("INSERT INTO source_state VALUES (:s, 1) ON CONFLICT (source)"
                             " DO UPDATE SET changes = changes + 1", params)
            # A few hundred rows a pull: sqlite-utils' inserts by column name are clearest.
            db = self.store.db
            db.table("aggregates").insert_all(
                {"snapshot_id": self.id, "agency_code": a.agency.code,
                 "agency_name": a.agency.name, "period_start": a.period.start.isoformat(),
                 "period_end": a.period.end.isoformat(),
                 "period_convention": a.period.convention, **a.metrics()}
                for a in self._aggregates)
            db.table("index_scores").insert_all(
                {"snapshot_id": self.id, "unit_id": s.unit_id, "name": s.name,
                 "agency_code": s.agency_code, "level": s.level, "rank": s.rank,
                 "groups": json.dumps(dict(s.groups), sort_keys=True), "total": s.total}
                for s in self._scores)
            conn.execute(
                "UPDATE snapshots SET state = 'complete', finished_at = ?, dossier_count = ?,"
                " aggregate_count = ?, index_count = ?, versions_added = ?, content_hash = ?"
                " WHERE id = ?",
                (iso(now_local()), count, len(self._aggregates), len(self._scores), added,
                 self._content_hash(), self.id))
        self._drop_staging()
        self.result = self.store.snapshot(self.id)
        return self.result

    def fail(self, message: str) -> None:
        """Discard what was staged; the snapshot stays in the list as failed."""
        self._drop_staging()
        with contextlib.suppress(StoreError), self.store.transaction() as conn:
            conn.execute(
                "UPDATE snapshots SET state = 'failed', finished_at = ?, error = ?"
                " WHERE id = ? AND state = 'running'",
                (iso(now_local()), message[:500], self.id))

    def _drop_staging(self) -> None:
        _ACTIVE.discard((str(self.store.path), self.id))
        self._compared = None
        self._closing.close()  # waits for a comparison still running
        with contextlib.suppress(sqlite3.Error):
            if self.store.conn.in_transaction:
                self.store.conn.execute("ROLLBACK")
            self.store.conn.execute(f"DROP TABLE IF EXISTS {self.staging}")
            self.store.conn.execute(f"DROP TABLE IF EXISTS {self.staging}_leaving")
            self.store.conn.execute(f"DROP TABLE IF EXISTS {self.seen}")
