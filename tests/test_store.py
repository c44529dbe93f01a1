"""The snapshot store, against a real SQLite file."""

import datetime as dt
import sqlite3
import tempfile
from pathlib import Path

import attrs
import pytest
from conftest import make_dossier
from hypothesis import given, settings
from hypothesis import strategies as st

from nq57sync import Period, StoreError
from nq57sync.model import VN_TZ, Agency, AggregateRow, IndexScore, Procedure
from nq57sync_storage import Store
from nq57sync_storage.schema import LATEST

NOV = Period.parse("2025-11")


def pull(store, dossiers, *, source="left", period=NOV, agencies=(), page_size=5000):
    with store.begin_snapshot(source=source, plugin="test", period=period,
                              agencies=agencies) as writer:
        for start in range(0, len(dossiers), page_size):
            writer.add_dossiers(dossiers[start:start + page_size])
    return writer.result


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "s.db") as s:
        yield s


def test_open_migrates_and_uses_wal(store):
    assert store.schema_version() == LATEST
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.integrity_check() == []
    # Re-opening runs no migration twice.
    with Store(store.path) as again:
        assert again.query("SELECT count(*) AS n FROM schema_migrations")[0]["n"] == LATEST


def test_same_pull_twice_adds_no_versions(store):
    dossiers = [make_dossier(i) for i in range(2000)]
    first = pull(store, dossiers)
    second = pull(store, dossiers)
    assert (first.state, first.dossier_count, first.versions_added) == ("complete", 2000, 2000)
    assert (second.dossier_count, second.versions_added) == (2000, 0)
    assert first.content_hash == second.content_hash
    assert store.version_count() == 2000


def test_changing_one_percent_of_100k_adds_about_1000_versions(store):
    dossiers = [make_dossier(i) for i in range(100_000)]
    pull(store, dossiers)
    changed = [attrs.evolve(d, status=10) if i % 100 == 0 and d.status != 10 else d
               for i, d in enumerate(dossiers)]
    n_changed = sum(a is not b for a, b in zip(dossiers, changed, strict=True))
    assert 700 <= n_changed <= 1000
    second = pull(store, changed)
    assert second.versions_added == n_changed
    assert store.version_count() == 100_000 + n_changed


#: One pull: the dossiers it lists in order (number, content variant; a number may
#: come twice and its last copy counts), its page size, and its scope.
a_pull = st.tuples(
    st.lists(st.tuples(st.integers(0, 24), st.integers(0, 2)), max_size=60),
    st.integers(1, 40),
    st.sampled_from([NOV, Period.parse("2025-11-08..2025-11-21")]),
    st.none() | st.integers(0, 6),
)


def variant(number, which):
    return make_dossier(number) if which == 0 else make_dossier(
        number, status=(4, 10)[which - 1], raw={"i": number, "variant": which})


@settings(max_examples=60)
@given(st.lists(a_pull, min_size=1, max_size=4))
def test_every_snapshot_reads_back_as_the_pulls_made_it(pulls):
    """Whatever the pages, repeats, vanishings and scopes: each snapshot reads back as
    the store's current dossiers were when it completed, and only content that
    differs from its current version adds a version."""
    expected: dict[str, str] = {}  # code → fingerprint of its current version
    dossier = {}  # code → any copy: number fixes agency and day
    history = []
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "p.db") as store:
        for listing, page_size, period, agency in pulls:
            agencies = [] if agency is None else [f"H31.{agency:02d}"]
            dossiers = [variant(*item) for item in listing]
            listed = {d.code: d for d in dossiers}
            digests = {code: d.content_hash() for code, d in listed.items()}
            added = sum(expected.get(code) != digest for code, digest in digests.items())
            dossier.update(listed)
            in_scope = {code for code, d in dossier.items()
                        if period.contains(d.received_at.date())
                        and (not agencies or d.agency.code in agencies)}
            expected = {code: digest for code, digest in expected.items()
                        if code not in in_scope} | digests
            snap = pull(store, dossiers, period=period, agencies=agencies, page_size=page_size)
            assert (snap.dossier_count, snap.versions_added) == (len(listed), added)
            history.append((snap.id, dict(expected)))
        for snapshot_id, then in history:
            read = store.dossiers_as_of(snapshot_id, within_scope=False)
            assert {d.code: d.content_hash() for d in read} == then
        assert store.integrity_check() == []


def test_reading_as_of_an_older_snapshot(store):
    dossiers = [make_dossier(i) for i in range(300)]
    first = pull(store, dossiers)
    changed = [attrs.evolve(d, status=10) for d in dossiers[:10]] + dossiers[10:299]
    second = pull(store, changed)  # 10 changed, dossier 299 vanished
    old = {d.code: d for d in store.dossiers_as_of(first.id)}
    new = {d.code: d for d in store.dossiers_as_of(second.id)}
    assert len(old) == 300 and len(new) == 299
    assert old[dossiers[0].code].status == dossiers[0].status
    assert new[dossiers[0].code].status == 10
    assert dossiers[299].code not in new
    assert old[dossiers[5].code].canonical_values() == dossiers[5].canonical_values()


def test_a_pull_only_retires_dossiers_inside_its_own_scope(store):
    nov = [make_dossier(i) for i in range(100)]
    pull(store, nov)
    # A pull of one agency for one week says nothing about the others.
    week = Period.parse("2025-11-01..2025-11-07")
    agency = nov[0].agency.code
    part = pull(store, [], period=week, agencies=[agency])
    gone = [d for d in nov if d.agency.code == agency and week.contains(d.received_at.date())]
    assert gone, "the scenario needs dossiers inside the narrow scope"
    latest = {d.code for d in store.dossiers_as_of(part.id, within_scope=False)}
    assert latest == {d.code for d in nov} - {d.code for d in gone}


def test_sources_are_versioned_apart(store):
    dossiers = [make_dossier(i) for i in range(50)]
    pull(store, dossiers, source="left")
    right = pull(store, dossiers, source="right")
    assert right.versions_added == 50
    assert store.version_count("left") == store.version_count("right") == 50


def test_a_failed_pull_leaves_the_store_as_it_was(store):
    pull(store, [make_dossier(i) for i in range(100)])
    before = store.query("SELECT * FROM dossier_versions ORDER BY id")

    class Boom(Exception):
        pass

    with pytest.raises(Boom):  # noqa: SIM117
        with store.begin_snapshot(source="left", plugin="test", period=NOV) as writer:
            writer.add_dossiers([attrs.evolve(make_dossier(i), status=10) for i in range(100)])
            writer.add_aggregates([AggregateRow(Agency("X"), NOV, received_total=1)])
            raise Boom
    assert store.query("SELECT * FROM dossier_versions ORDER BY id") == before
    failed = store.snapshots("left")[0]
    assert failed.state == "failed" and "Boom" not in (failed.error or "x")
    assert store.query("SELECT count(*) AS n FROM aggregates")[0]["n"] == 0
    assert store.latest_complete("left").id != failed.id


def test_aggregates_and_index_scores_round_trip(store):
    row = AggregateRow(Agency("H31.01", "UBND xã A"), NOV, received_online=9765,
                       received_direct=2197, received_total=11962)
    score = IndexScore("7", "UBND xã A", "H31.01", 2, 3, {"CKMB": 17.5, "TDGQ": 19.0}, 88.25)
    with store.begin_snapshot(source="right", plugin="test", period=NOV) as writer:
        writer.add_aggregates([row])
        writer.add_index_scores([score])
    assert store.aggregates(writer.result.id) == [row]
    assert store.index_scores(writer.result.id) == [score]


def test_one_running_pull_per_source(store):
    writer = store.begin_snapshot(source="left", plugin="test", period=NOV)
    with pytest.raises(Exception, match="đang có một lượt đồng bộ khác"):
        store.begin_snapshot(source="left", plugin="test", period=NOV)
    writer.commit()


def test_a_file_that_is_not_a_database_is_a_clear_store_error(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="không phải cơ sở dữ liệu SQLite"):
        Store(bad)


def test_a_full_disk_during_commit_loses_nothing(tmp_path):
    """SQLite's max_page_count makes the file 'full' without filling the machine's disk."""
    with Store(tmp_path / "full.db") as store:
        pull(store, [make_dossier(i) for i in range(200)])
        before = store.query("SELECT id, valid_to FROM dossier_versions ORDER BY id")
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages + 2}")
        with pytest.raises(StoreError, match="đĩa đã đầy"):
            pull(store, [make_dossier(i + 10_000) for i in range(5000)])
        store.conn.execute("PRAGMA max_page_count = 1073741823")
        store.recover_interrupted()  # what doctor and the next sync do
        assert store.query("SELECT id, valid_to FROM dossier_versions ORDER BY id") == before
        assert store.snapshots()[0].state == "failed"
        assert store.integrity_check() == []


def test_the_file_is_plain_sqlite(store):
    pull(store, [make_dossier(i) for i in range(10)])
    conn = sqlite3.connect(store.path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"snapshots", "dossier_versions", "aggregates", "index_scores",
            "schema_migrations", "request_budget"} <= tables
    (received,) = conn.execute("SELECT received_at FROM dossier_versions LIMIT 1").fetchone()
    assert dt.datetime.fromisoformat(received).utcoffset() == dt.timedelta(hours=7)


def test_fingerprints_ignore_key_order_and_object_identity(store):
    """A source that reorders its JSON keys, or equal records decoded by different
    calls, changes no fingerprint and adds no version."""
    import json

    nested = '{"x": "1", "y": "1"}'
    first = [make_dossier(i, raw=json.loads(f'{{"b": {nested}, "a": "1", "n": {i}}}'))
             for i in range(50)]
    again = [make_dossier(i, raw=json.loads(f'{{"n": {i}, "a": "1", "b": {nested}}}'))
             for i in range(50)]
    pull(store, first)
    assert pull(store, again).versions_added == 0


def test_a_fingerprint_is_the_same_on_every_python():
    """Pinned: stores keep fingerprints, so one computed otherwise (a Python whose marshal
    writes format 2 differently) would re-version every dossier at the next pull."""
    raw = {"b": {"x": "y"}, "a": [1, "đ", None, 2.5, True]}
    assert make_dossier(7, raw=raw).content_hash() == "20ff283ae408ff77a7099ad36292f981"
    assert make_dossier(3).content_hash() == "8a4c36fb80a05d7b3982fe090f80dec4"
    # A raw value JSON holds only as text is fingerprinted by that text.
    dated = make_dossier(7, raw={"when": dt.date(2025, 11, 3)})
    assert dated.content_hash() == "e36a3db33eddaac0006ff7bae2bc0bc4"


_EDITS = {
    "code": lambda d, v: attrs.evolve(d, code=d.code + v),
    "alt_code": lambda d, v: attrs.evolve(d, alt_code=v),
    "agency name": lambda d, v: attrs.evolve(d, agency=Agency(d.agency.code, d.agency.name + v)),
    "procedure": lambda d, v: attrs.evolve(d, procedure=Procedure(d.procedure.code + v)),
    "status_raw": lambda d, v: attrs.evolve(d, status_raw=v),
    "returned_at": lambda d, v: attrs.evolve(
        d, returned_at=d.received_at + dt.timedelta(seconds=1 + len(v))),
    "synced_at": lambda d, v: attrs.evolve(d, synced_at=None),
    "raw": lambda d, v: attrs.evolve(d, raw={**d.raw, "k": v}),
}


@settings(max_examples=150)
@given(number=st.integers(0, 500), edit=st.sampled_from(sorted(_EDITS)),
       value=st.text(min_size=1, max_size=8),
       micro=st.integers(0, 999_999))
def test_fingerprints_differ_exactly_when_what_is_stored_differs(number, edit, value, micro):
    """Equal stored content, equal fingerprint (whatever the microseconds, which the store
    does not keep, and whether the strings are the same objects); any stored field
    changed, another fingerprint."""
    base = make_dossier(number, synced_at=dt.datetime(2025, 12, 1, 8, tzinfo=VN_TZ),
                        raw={"n": number})
    copy = attrs.evolve(base, code="".join(list(base.code)),
                        received_at=base.received_at.replace(microsecond=micro),
                        raw={"n": number})
    assert copy.fingerprint() == base.fingerprint()
    changed = _EDITS[edit](base, value)
    same = (changed.canonical_values(), dict(changed.raw)) == (base.canonical_values(),
                                                               dict(base.raw))
    assert (changed.fingerprint() == base.fingerprint()) == same


def old_store(path: Path, version: int, dossiers: list, fingerprint: str = "") -> None:
    """A store as an earlier release left it: migrations up to `version`, one complete
    snapshot of `dossiers` written in that release's shape (names in full, fingerprints
    in hexadecimal, or `fingerprint` instead)."""
    from nq57sync.rows import row_of as dossier_row
    from nq57sync_storage.schema import MIGRATIONS
    from nq57sync_storage.store import _COLUMN_LIST, _PLACEHOLDERS

    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT"
                 " NOT NULL)")
    for number in range(1, version + 1):
        conn.executescript(MIGRATIONS[number])
        conn.execute("INSERT INTO schema_migrations VALUES (?, '2025-11-01')", (number,))
    conn.execute(
        "INSERT INTO snapshots (id, source, plugin, kind, scope, period_start, period_end,"
        " period_convention, period_label, state, started_at, finished_at, dossier_count)"
        " VALUES (1, 'left', 'test', 'pull', '*', '2025-11-01', '2025-11-30', 'calendar',"
        " '2025-11', 'complete', '2025-12-01T08:00:00+07:00', '2025-12-01T08:01:00+07:00', ?)",
        (len(dossiers),))
    conn.executemany(
        f"INSERT INTO dossier_versions ({_COLUMN_LIST}, source, valid_from)"
        f" VALUES ({_PLACEHOLDERS}, 'left', 1)",
        [dossier_row(d, fingerprint or d.content_hash()) for d in dossiers])
    conn.commit()
    conn.close()


@pytest.mark.parametrize("version", [5, 7])
def test_an_older_store_is_upgraded_and_a_re_pull_adds_nothing(tmp_path, version):
    """From before migration 6 (fingerprints computed another way: 6 computes them again)
    or after it, through the current state (8, 9) and interned names (10)."""
    dossiers = [make_dossier(i) for i in range(30)]
    old_store(tmp_path / "s.db", version, dossiers, "old-fingerprint" if version < 6 else "")
    with Store(tmp_path / "s.db") as store:
        assert store.schema_version() == LATEST
        assert dict(store.conn.execute("SELECT code, content_hash FROM dossier_versions")) == {
            d.code: d.fingerprint() for d in dossiers}
        assert sorted(store.dossiers_as_of(1), key=lambda d: d.code) == sorted(
            dossiers, key=lambda d: d.code)
        assert store.conn.execute("SELECT count(*) FROM current_dossiers").fetchone()[0] == 30
        assert store.integrity_check() == []
        assert pull(store, dossiers).versions_added == 0


def test_the_store_opens_with_views_for_people(store):
    pull(store, [make_dossier(i) for i in range(10)])
    assert store.conn.execute("SELECT count(*) FROM current_dossiers").fetchone()[0] == 10
    assert store.conn.execute("SELECT count(*) FROM complete_snapshots").fetchone()[0] == 1
    assert store.conn.execute("SELECT count(*) FROM open_discrepancies").fetchone()[0] == 0


def test_two_processes_opening_an_older_store_both_upgrade_it(tmp_path):
    import subprocess
    import sys

    with Store(tmp_path / "s.db") as store:
        pull(store, [make_dossier(i) for i in range(50)])
        store.conn.execute("DELETE FROM schema_migrations WHERE version = ?", (LATEST,))
    opener = ("import sys; from nq57sync_storage import Store; s = Store(sys.argv[1]);"
              " print(s.schema_version()); s.close()")
    children = [subprocess.Popen([sys.executable, "-c", opener, str(tmp_path / "s.db")],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(4)]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert out.strip() == str(LATEST)
    with Store(tmp_path / "s.db") as store:
        versions = [v for (v,) in store.conn.execute("SELECT version FROM schema_migrations")]
        assert versions == list(range(1, LATEST + 1))
        assert store.conn.execute("SELECT count(*) FROM dossier_current").fetchone()[0] == 50
