"""Numbered schema migrations, applied in order when a store is opened.

Never edit a released migration: add the next number. `storage/README.md`
documents the resulting tables for people browsing the file.
"""

from __future__ import annotations

#: Where a dossier stands for the standard form, decided when its version is written:
#: resolved `early`, `on_time` or `late` (by calendar day against its due day),
#: `rejected` (status 3, or 7 withdrawn), or still pending as `due:` and its due day
#: (`due:` alone without one), which is overdue or in time by the day it is seen.
OUTCOME = (
    "CASE WHEN status IN (3, 7) THEN 'rejected'"
    " WHEN finished_at IS NOT NULL AND due_at IS NOT NULL THEN CASE"
    "  WHEN substr(finished_at, 1, 10) < substr(due_at, 1, 10) THEN 'early'"
    "  WHEN substr(finished_at, 1, 10) = substr(due_at, 1, 10) THEN 'on_time' ELSE 'late' END"
    " WHEN finished_at IS NOT NULL THEN 'on_time'"
    " ELSE 'due:' || coalesce(substr(due_at, 1, 10), '') END"
)

MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE snapshots (
    id              INTEGER PRIMARY KEY,
    source          TEXT NOT NULL,
    plugin          TEXT NOT NULL,
    kind            TEXT NOT NULL,          -- 'pull' or 'import'
    scope           TEXT NOT NULL,          -- JSON list of agency codes, or '*'
    period_start    TEXT NOT NULL,          -- local calendar day, inclusive
    period_end      TEXT NOT NULL,
    period_convention TEXT NOT NULL,        -- calendar | nd09 | range
    period_label    TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('running', 'complete', 'failed')),
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    dossier_count   INTEGER NOT NULL DEFAULT 0,
    aggregate_count INTEGER NOT NULL DEFAULT 0,
    index_count     INTEGER NOT NULL DEFAULT 0,
    versions_added  INTEGER NOT NULL DEFAULT 0,
    content_hash    TEXT,
    error           TEXT,
    pid             INTEGER,
    host            TEXT
);
CREATE INDEX snapshots_source_state ON snapshots (source, state, id);

CREATE TABLE dossier_versions (
    id              INTEGER PRIMARY KEY,
    source          TEXT NOT NULL,
    code            TEXT NOT NULL,          -- national dossier code (MaHoSo / nationCode)
    alt_code        TEXT,                   -- MaHoSoKhac / local code
    agency_code     TEXT NOT NULL,
    agency_name     TEXT NOT NULL,
    procedure_code  TEXT NOT NULL,
    procedure_name  TEXT NOT NULL,
    field_code      TEXT NOT NULL,
    channel         INTEGER NOT NULL,       -- KenhThucHien
    status          INTEGER NOT NULL,       -- TrangThaiHoSo
    channel_raw     TEXT NOT NULL,
    status_raw      TEXT NOT NULL,
    received_at     TEXT,                   -- ISO-8601, +07:00
    due_at          TEXT,
    finished_at     TEXT,
    returned_at     TEXT,
    rejected_at     TEXT,
    updated_at      TEXT,
    synced_at       TEXT,
    raw             TEXT NOT NULL,          -- the source's record, JSON
    content_hash    TEXT NOT NULL,
    valid_from      INTEGER NOT NULL REFERENCES snapshots (id),
    valid_to        INTEGER REFERENCES snapshots (id)   -- NULL: still current
);
CREATE UNIQUE INDEX dossier_versions_current
    ON dossier_versions (source, code) WHERE valid_to IS NULL;
CREATE INDEX dossier_versions_current_received
    ON dossier_versions (source, received_at) WHERE valid_to IS NULL;
CREATE INDEX dossier_versions_history ON dossier_versions (source, valid_from, valid_to);

CREATE TABLE aggregates (
    snapshot_id     INTEGER NOT NULL REFERENCES snapshots (id),
    agency_code     TEXT NOT NULL,
    agency_name     TEXT NOT NULL,
    period_start    TEXT NOT NULL,
    period_end      TEXT NOT NULL,
    period_convention TEXT NOT NULL,
    carried_over INTEGER NOT NULL, received_online INTEGER NOT NULL,
    received_direct INTEGER NOT NULL, received_postal INTEGER NOT NULL,
    received_total INTEGER NOT NULL, resolved_early INTEGER NOT NULL,
    resolved_on_time INTEGER NOT NULL, resolved_late INTEGER NOT NULL,
    resolved_total INTEGER NOT NULL, pending_in_time INTEGER NOT NULL,
    pending_overdue INTEGER NOT NULL, pending_total INTEGER NOT NULL,
    withdrawn INTEGER NOT NULL, rejected INTEGER NOT NULL
);
CREATE INDEX aggregates_snapshot ON aggregates (snapshot_id, agency_code);

CREATE TABLE index_scores (
    snapshot_id     INTEGER NOT NULL REFERENCES snapshots (id),
    unit_id         TEXT NOT NULL,
    name            TEXT NOT NULL,
    agency_code     TEXT NOT NULL,
    level           INTEGER NOT NULL,
    rank            INTEGER,
    groups          TEXT NOT NULL,          -- JSON {"CKMB": 17.5, ...}
    total           REAL NOT NULL
);
CREATE INDEX index_scores_snapshot ON index_scores (snapshot_id);
""",
    2: """
CREATE TABLE request_budget (
    source  TEXT NOT NULL,
    day     TEXT NOT NULL,                  -- local calendar day
    used    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source, day)
);
""",
    3: """
CREATE TABLE reconcile_runs (
    id              INTEGER PRIMARY KEY,
    left_snapshot   INTEGER NOT NULL REFERENCES snapshots (id),
    right_snapshot  INTEGER NOT NULL REFERENCES snapshots (id),
    period_start    TEXT NOT NULL,
    period_end      TEXT NOT NULL,
    period_convention TEXT NOT NULL,
    run_at          TEXT NOT NULL,
    discrepancies   INTEGER NOT NULL,
    summary         TEXT NOT NULL           -- JSON, as `reconcile --format json` prints it
);

CREATE TABLE discrepancies (
    id              TEXT PRIMARY KEY,       -- stable: same disagreement, same id
    left_source     TEXT NOT NULL,
    right_source    TEXT NOT NULL,
    kind            TEXT NOT NULL,
    base_kind       TEXT NOT NULL,          -- the kind once the grace period is over
    dossier_code    TEXT NOT NULL,
    agency_code     TEXT NOT NULL,
    procedure_code  TEXT NOT NULL,
    field           TEXT,
    left_value      TEXT,
    right_value     TEXT,
    day             TEXT NOT NULL,          -- the dossier's received day (left side's if any)
    state           TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
    first_seen      TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    resolved_at     TEXT,
    first_run       INTEGER NOT NULL REFERENCES reconcile_runs (id),
    last_run        INTEGER NOT NULL REFERENCES reconcile_runs (id)
);
CREATE INDEX discrepancies_open ON discrepancies (left_source, right_source, state, day);
CREATE INDEX discrepancies_agency ON discrepancies (agency_code, kind);
""",
    4: """
CREATE TABLE daemon_jobs (
    job_id      TEXT PRIMARY KEY,           -- sync:<source>, reconcile, report, prune
    last_run    TEXT,
    last_status TEXT,                       -- ok | failed | skipped
    last_error  TEXT,
    failures    INTEGER NOT NULL DEFAULT 0, -- consecutive
    next_run    TEXT,
    updated_at  TEXT NOT NULL
);
""",
    5: """
-- What the dashboard shows of a run without recomputing it: figures, comparisons,
-- rule violations, impact, notes and the monthly trend, as JSON.
ALTER TABLE reconcile_runs ADD COLUMN details TEXT;
CREATE INDEX discrepancies_seen ON discrepancies (state, last_seen);
-- A dossier looked up by its other code (the dashboard's comparison page).
CREATE INDEX dossier_versions_current_alt ON dossier_versions (source, alt_code)
    WHERE valid_to IS NULL AND alt_code IS NOT NULL;
""",
    6: """
-- Dossier fingerprints no longer depend on object identity or key order
-- (`Dossier.content_hash`), so the current versions are fingerprinted again by
-- `Store._refingerprint` so the next pull does not see every dossier as changed.
SELECT 1;
""",
    7: """
-- Views for people opening the file in sqlite3 or datasette.
CREATE VIEW IF NOT EXISTS current_dossiers AS
    SELECT * FROM dossier_versions WHERE valid_to IS NULL;
CREATE VIEW IF NOT EXISTS open_discrepancies AS
    SELECT * FROM discrepancies WHERE state = 'open';
CREATE VIEW IF NOT EXISTS complete_snapshots AS
    SELECT * FROM snapshots WHERE state = 'complete';
""",
    8: """
-- The current version of every dossier, clustered by source and code: reconciling
-- the newest snapshots walks both sources' rows in code order where they lie, with
-- no copy (measured on 2 x 1,000,000 dossiers: copying both sides into scratch
-- tables took 5,9 s of 14 s). Kept by the snapshot writer in the transaction that
-- completes a snapshot, so it always equals the versions WHERE valid_to IS NULL.
-- Written to run again safely (a store whose bookkeeping was rolled back).
CREATE TABLE IF NOT EXISTS dossier_current (
    source          TEXT NOT NULL,
    code            TEXT NOT NULL,
    alt_code        TEXT,
    agency_code     TEXT NOT NULL,
    procedure_code  TEXT NOT NULL,
    channel         INTEGER NOT NULL,
    status          INTEGER NOT NULL,
    received_at     TEXT,
    due_at          TEXT,
    finished_at     TEXT,
    returned_at     TEXT,
    updated_at      TEXT,
    PRIMARY KEY (source, code)
) WITHOUT ROWID;
DELETE FROM dossier_current;
INSERT INTO dossier_current
    SELECT source, code, alt_code, agency_code, procedure_code, channel, status, received_at,
           due_at, finished_at, returned_at, updated_at
    FROM dossier_versions WHERE valid_to IS NULL ORDER BY source, code;
CREATE INDEX IF NOT EXISTS dossier_current_alt ON dossier_current (source, alt_code)
    WHERE alt_code IS NOT NULL;
-- Each source's agencies by code, with the newest name its dossiers gave: the
-- labels of reports and the dashboard (a DISTINCT over the versions took 0,9 s
-- per million dossiers at every reconcile).
CREATE TABLE IF NOT EXISTS agencies (
    source          TEXT NOT NULL,
    code            TEXT NOT NULL,
    name            TEXT NOT NULL,
    PRIMARY KEY (source, code)
) WITHOUT ROWID;
INSERT OR REPLACE INTO agencies
    SELECT source, agency_code, max(agency_name) FROM dossier_versions
    WHERE valid_to IS NULL AND agency_name <> '' GROUP BY source, agency_code;
-- How many snapshots changed each source's current dossiers, and what matching
-- found for the last recorded runs: a reconcile of sides that did not change since
-- reuses it (the daemon syncs and reconciles every cycle, mostly finding nothing new).
CREATE TABLE IF NOT EXISTS source_state (
    source          TEXT PRIMARY KEY,
    changes         INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS match_cache (
    key             TEXT PRIMARY KEY,       -- the sides' states, days, period, scope, tolerance
    made_at         TEXT NOT NULL,
    payload         BLOB NOT NULL           -- zlib-compressed JSON of the matcher's rows
);
""",
    9: """
-- `dossier_current` points at each current version, and takes over the three partial
-- indexes that found current versions by code, by date received and by other code:
-- 140 bytes a dossier (measured with dbstat on a million), a third of the store.
ALTER TABLE dossier_current ADD COLUMN version_id INTEGER REFERENCES dossier_versions (id);
UPDATE dossier_current SET version_id = (SELECT v.id FROM dossier_versions AS v
    WHERE v.source = dossier_current.source AND v.code = dossier_current.code
    AND v.valid_to IS NULL);
-- The current dossiers counted by what the standard form's figures are made of, per
-- day received: a reconcile sums a period's days (thousands of rows) instead of
-- grouping a million dossiers a side (2 s each, measured). Kept by the transaction
-- that completes a snapshot, as `dossier_current` is.
DROP TABLE IF EXISTS dossier_counts;
CREATE TABLE dossier_counts (
    source          TEXT NOT NULL,
    received_day    TEXT NOT NULL,
    agency_code     TEXT NOT NULL,
    channel         INTEGER NOT NULL,
    withdrawn       INTEGER NOT NULL,       -- status 7
    outcome         TEXT NOT NULL,          -- `OUTCOME` in storage/schema.py
    n               INTEGER NOT NULL,
    PRIMARY KEY (source, received_day, agency_code, channel, withdrawn, outcome)
) WITHOUT ROWID;
INSERT INTO dossier_counts
    SELECT source, substr(received_at, 1, 10), agency_code, channel, status = 7, {outcome},
           count(*)
    FROM dossier_current WHERE received_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6;
DROP INDEX IF EXISTS dossier_versions_current;
DROP INDEX IF EXISTS dossier_versions_current_received;
DROP INDEX IF EXISTS dossier_versions_current_alt;
""",
    10: """
-- Names are stored once and versions point at them (a procedure's name is 36 bytes on
-- average, and most of a million dossiers share a few hundred), and fingerprints are
-- 16 bytes rather than 32 hexadecimal characters: `Store._compact_versions` rebuilds
-- `dossier_versions` with `COMPACT_VERSIONS` (SQLite's way to change columns).
CREATE TABLE IF NOT EXISTS names (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE
);
""",
}
#: Migrations with a step in Python after their SQL (version → Store method name).
PYTHON_STEPS: dict[int, str] = {6: "_refingerprint", 10: "_compact_versions"}

#: Migration 10's rebuild of a `dossier_versions` that still holds names in full.
COMPACT_VERSIONS = """
DROP VIEW IF EXISTS current_dossiers;
INSERT OR IGNORE INTO names (name)
    SELECT agency_name FROM dossier_versions UNION SELECT procedure_name FROM dossier_versions;
CREATE TABLE dossier_versions_compact (
    id              INTEGER PRIMARY KEY,
    source          TEXT NOT NULL,
    code            TEXT NOT NULL,          -- national dossier code (MaHoSo / nationCode)
    alt_code        TEXT,                   -- MaHoSoKhac / local code
    agency_code     TEXT NOT NULL,
    agency_name_id  INTEGER NOT NULL REFERENCES names (id),
    procedure_code  TEXT NOT NULL,
    procedure_name_id INTEGER NOT NULL REFERENCES names (id),
    field_code      TEXT NOT NULL,
    channel         INTEGER NOT NULL,       -- KenhThucHien
    status          INTEGER NOT NULL,       -- TrangThaiHoSo
    channel_raw     TEXT NOT NULL,
    status_raw      TEXT NOT NULL,
    received_at     TEXT,                   -- ISO-8601, +07:00
    due_at          TEXT,
    finished_at     TEXT,
    returned_at     TEXT,
    rejected_at     TEXT,
    updated_at      TEXT,
    synced_at       TEXT,
    raw             TEXT NOT NULL,          -- the record's fields no column holds, JSON
    content_hash    BLOB NOT NULL,          -- `Dossier.fingerprint()`, 16 bytes
    valid_from      INTEGER NOT NULL REFERENCES snapshots (id),
    valid_to        INTEGER REFERENCES snapshots (id)   -- NULL: still current
);
INSERT INTO dossier_versions_compact
    SELECT id, source, code, alt_code, agency_code,
           (SELECT id FROM names WHERE name = agency_name), procedure_code,
           (SELECT id FROM names WHERE name = procedure_name), field_code, channel, status,
           channel_raw, status_raw, received_at, due_at, finished_at, returned_at, rejected_at,
           updated_at, synced_at, raw, unhex(content_hash), valid_from, valid_to
    FROM dossier_versions ORDER BY id;
DROP TABLE dossier_versions;
ALTER TABLE dossier_versions_compact RENAME TO dossier_versions;
CREATE INDEX dossier_versions_history ON dossier_versions (source, valid_from, valid_to);
"""

#: What people opening the file see of the current versions: names in full.
CURRENT_DOSSIERS = """
DROP VIEW IF EXISTS current_dossiers;
CREATE VIEW current_dossiers AS
    SELECT v.id, v.source, v.code, v.alt_code, v.agency_code, an.name AS agency_name,
           v.procedure_code, pn.name AS procedure_name, v.field_code, v.channel, v.status,
           v.channel_raw, v.status_raw, v.received_at, v.due_at, v.finished_at, v.returned_at,
           v.rejected_at, v.updated_at, v.synced_at, v.raw,
           lower(hex(v.content_hash)) AS content_hash, v.valid_from, v.valid_to
    FROM dossier_current AS k JOIN dossier_versions AS v ON v.id = k.version_id
    JOIN names AS an ON an.id = v.agency_name_id JOIN names AS pn ON pn.id = v.procedure_name_id;
"""

MIGRATIONS[9] = MIGRATIONS[9].format(outcome=OUTCOME)

LATEST = max(MIGRATIONS)
