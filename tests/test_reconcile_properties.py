"""Reconciliation invariants, on generated pairs of snapshots in a real SQLite store."""

import datetime as dt
import tempfile
from pathlib import Path

import attrs
from conftest import make_dossier
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nq57sync import Config, Period
from nq57sync.codes import Channel, Status
from nq57sync.model import VN_TZ, Agency, Procedure
from nq57sync.reconcile import Reconciler
from nq57sync_storage import Store

NOV = Period.parse("2025-11")
INJECTABLE = ("missing_in_right", "missing_in_left", "status", "channel", "procedure", "agency",
              "returned_at", "timeliness", "sync_pending")


def base_dossiers(n: int) -> list:
    """Dossiers whose left side is returned early, so every injection stays clean."""
    out = []
    for i in range(n):
        d = make_dossier(i)
        finished = d.received_at + dt.timedelta(days=1)
        out.append(attrs.evolve(d, status=Status.RETURNED, finished_at=finished,
                                returned_at=finished + dt.timedelta(hours=2),
                                updated_at=finished + dt.timedelta(hours=2)))
    return out


def inject(left: list, plan: list[tuple[int, str]]) -> tuple[list, list, set]:
    """Spoil the right copies; return both sides and the (kind, code, field) expected."""
    right = {d.code: d for d in left}
    left = list(left)
    expected = set()
    for index, what in plan:
        d = left[index]
        if what == "missing_in_right":
            del right[d.code]
            expected.add(("missing_in_right", d.code, None))
        elif what == "missing_in_left":
            ghost = attrs.evolve(d, code=d.code + "-X")
            right[ghost.code] = ghost
            expected.add(("missing_in_left", ghost.code, None))
        elif what == "status":
            right[d.code] = attrs.evolve(right[d.code], status=Status.FINISHED)
            expected.add(("status_mismatch", d.code, "status"))
        elif what == "channel":
            other = Channel.ONLINE if d.channel != Channel.ONLINE else Channel.DIRECT
            right[d.code] = attrs.evolve(right[d.code], channel=other)
            expected.add(("channel_mismatch", d.code, "channel"))
        elif what == "procedure":
            right[d.code] = attrs.evolve(right[d.code], procedure=Procedure("9.999999", "Khác"))
            expected.add(("procedure_mismatch", d.code, "procedure_code"))
        elif what == "agency":
            right[d.code] = attrs.evolve(right[d.code], agency=Agency("H31.99", "Khác"))
            expected.add(("agency_mismatch", d.code, "agency_code"))
        elif what == "returned_at":
            right[d.code] = attrs.evolve(right[d.code],
                                         returned_at=d.returned_at + dt.timedelta(hours=5))
            expected.add(("date_mismatch", d.code, "returned_at"))
        elif what == "timeliness":
            due_end = dt.datetime.combine(d.due_at.date(), dt.time(23, 59, 50), VN_TZ)
            left[index] = d = attrs.evolve(d, finished_at=due_end)
            right[d.code] = attrs.evolve(d, finished_at=due_end + dt.timedelta(seconds=40))
            expected.add(("timeliness_mismatch", d.code, "timeliness"))
        elif what == "sync_pending":
            recent = dt.datetime.now(VN_TZ) - dt.timedelta(hours=1)
            left[index] = d = attrs.evolve(d, status=Status.RETURNED, updated_at=recent)
            right[d.code] = attrs.evolve(d, status=Status.FINISHED)
            expected.add(("sync_pending", d.code, "status"))
    return left, list(right.values()), expected


def reconcile(left: list, right: list, *, swap: bool = False):
    """Both sides stored as snapshots of sources L and R in a fresh store, then reconciled."""
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "s.db") as store:
        for source, dossiers in (("L", left), ("R", right)):
            with store.begin_snapshot(source=source, plugin="test", period=NOV) as writer:
                writer.add_dossiers(dossiers)
        config = Config.from_dict({"reconcile": {"left": "R" if swap else "L",
                                                 "right": "L" if swap else "R"}})
        return Reconciler(store, config).run(NOV, record=False)


def found(result) -> set:
    return {(d.kind, d.dossier_code, d.field) for d in result.discrepancies}


plans = st.integers(5, 40).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.tuples(st.integers(0, n - 1), st.sampled_from(INJECTABLE)), max_size=8,
             unique_by=lambda t: t[0])))
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


#: What varies between generated dossiers beyond `make_dossier`'s own spread.
dossier_changes = st.fixed_dictionaries({
    "status": st.sampled_from([s for s in Status if s != Status.UNMAPPED]),
    "channel": st.sampled_from(list(Channel)),
    "finished_at": st.none() | st.integers(0, 60 * 24 * 45).map(
        lambda minutes: dt.datetime(2025, 11, 1, tzinfo=VN_TZ) + dt.timedelta(minutes=minutes)),
    "alt_code": st.none() | st.text("0123456789ABC-", min_size=1, max_size=12),
})


@SETTINGS
@given(st.lists(dossier_changes, min_size=1, max_size=60))
def test_a_snapshot_reconciled_with_itself_finds_nothing(changes):
    dossiers = [make_dossier(i, **change) for i, change in enumerate(changes)]
    n = len(dossiers)
    result = reconcile(dossiers, dossiers)
    assert result.discrepancies == () and result.aggregates == ()
    assert result.matched == result.left_dossiers == result.right_dossiers == n


@SETTINGS
@given(plans)
def test_every_injected_difference_is_found_with_its_kind_and_nothing_else(plan):
    n, changes = plan
    left, right, expected = inject(base_dossiers(n), changes)
    result = reconcile(left, right)
    assert found(result) == expected


@SETTINGS
@given(plans.filter(lambda p: all(w != "sync_pending" for _, w in p[1])))
def test_swapping_sides_swaps_missing_kinds_and_nothing_else(plan):
    n, changes = plan
    left, right, _ = inject(base_dossiers(n), changes)
    forward, backward = reconcile(left, right), reconcile(left, right, swap=True)
    swap = {"missing_in_left": "missing_in_right", "missing_in_right": "missing_in_left"}
    assert {(swap.get(k, k), c, f) for k, c, f in found(forward)} == found(backward)
    values = {(d.dossier_code, d.field): (d.left, d.right) for d in forward.discrepancies}
    assert {(d.dossier_code, d.field): (d.right, d.left) for d in backward.discrepancies} == values


@SETTINGS
@given(plans)
def test_each_figure_difference_is_explained_by_its_dossiers(plan):
    n, changes = plan
    left, right, _ = inject(base_dossiers(n), changes)
    result = reconcile(left, right)
    ids = {d.id for d in result.discrepancies}
    for comparison in result.aggregates:
        assert comparison.difference == comparison.explained + comparison.unexplained
        # Figures recomputed from dossiers are explained entirely by dossier discrepancies.
        assert comparison.basis == "dossiers" and comparison.unexplained == 0
        assert set(comparison.explained_by) <= ids and comparison.explained_by
    if not changes:
        assert result.aggregates == ()


def _current_agrees(store: Store) -> bool:
    """`dossier_current` is exactly the versions still current, each pointing at its own,
    and `dossier_counts` counts exactly it (the store's invariants)."""
    from nq57sync_storage.schema import OUTCOME

    columns = ("source, code, alt_code, agency_code, procedure_code, channel, status,"
               " received_at, due_at, finished_at, returned_at, updated_at")
    query = "SELECT {c} FROM {t} ORDER BY source, code"
    counts = ("SELECT source, substr(received_at, 1, 10), agency_code, channel, status = 7,"
              f" {OUTCOME}, count(*) FROM dossier_current WHERE received_at IS NOT NULL"
              " GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6")
    return (list(map(tuple, store.conn.execute(query.format(c=columns + ", version_id",
                                                            t="dossier_current"))))
            == list(map(tuple, store.conn.execute(query.format(
                c=columns + ", id", t="dossier_versions WHERE valid_to IS NULL"))))
            and list(map(tuple, store.conn.execute(counts))) == list(map(tuple, store.conn.execute(
                "SELECT * FROM dossier_counts ORDER BY 1, 2, 3, 4, 5, 6"))))


@SETTINGS
@given(plans, st.integers(0, 4), st.sampled_from([s for s in Status if s != Status.UNMAPPED]))
def test_in_place_and_as_of_reconciles_agree(plan, later, status):
    """The newest snapshots are matched where they lie; older ones from a copy as of their
    snapshot: both give the same result for the same snapshots."""
    n, changes = plan
    left, right, _ = inject(base_dossiers(n), changes)
    config = Config.from_dict({"reconcile": {"left": "L", "right": "R"}})
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "s.db") as store:
        first = {}
        for source, dossiers in (("L", left), ("R", right)):
            with store.begin_snapshot(source=source, plugin="test", period=NOV) as writer:
                writer.add_dossiers(dossiers)
            first[source] = writer.result
        in_place = Reconciler(store, config).run(NOV, record=False)
        # Later pulls (the left drops a dossier, the right changes some): the first
        # snapshots are history, and the current state disagrees with them.
        for source, dossiers in (("L", left[1:]), ("R", [
                attrs.evolve(d, status=status) if i < later else d
                for i, d in enumerate(right)])):
            with store.begin_snapshot(source=source, plugin="test", period=NOV) as writer:
                writer.add_dossiers(dossiers)
            assert _current_agrees(store)
        now = Reconciler(store, config).run(NOV, record=False)
        if (later and status != Status.RETURNED) or left[0].code in {d.code for d in right}:
            assert found(now) != found(in_place)  # so the as-of run below is tested
        as_of = Reconciler(store, config).run(NOV, left=first["L"], right=first["R"],
                                              record=False)
    assert as_of.discrepancies == in_place.discrepancies
    assert (as_of.figures, as_of.aggregates) == (in_place.figures, in_place.aggregates)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans, st.integers(1, 4), st.integers(0, 30))
def test_a_reconcile_of_unchanged_sides_reuses_its_matching_and_agrees(plan, later, hours):
    """A recorded run keeps what matching found; the next reconcile of sides that did not
    change reads it (pending-ness decided again), and a change to either side is seen."""
    n, changes = plan
    left, right, _ = inject(base_dossiers(n), changes)
    config = Config.from_dict({"reconcile": {"left": "L", "right": "R"}})
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "s.db") as store:
        def pull(source, dossiers):
            with store.begin_snapshot(source=source, plugin="test", period=NOV) as writer:
                writer.add_dossiers(dossiers)

        def cached() -> int:
            return store.conn.execute("SELECT count(*) FROM match_cache").fetchone()[0]

        pull("L", left)
        pull("R", right)
        Reconciler(store, config).run(NOV, record=False)
        assert cached() == 0                      # reading never writes
        first = Reconciler(store, config).run(NOV)
        assert cached() == 1
        pull("L", left)                            # a new snapshot, nothing changed
        again = Reconciler(store, config).run(NOV, record=False)
        assert cached() == 1 and found(again) == found(first)
        assert (again.figures, again.aggregates) == (first.figures, first.aggregates)
        # A longer grace (a different `pending_since`) is decided again on the cached rows.
        wider = Config.from_dict({"reconcile": {"left": "L", "right": "R",
                                                "sync_grace_hours": 24 + hours}})
        fresh_store_result = reconcile_fresh(left, right, wider)
        assert found(Reconciler(store, wider).run(NOV, record=False)) == fresh_store_result
        # A change to the right side is seen, not read from the cache.
        pull("R", [attrs.evolve(d, status=Status.FINISHED) if i < later else d
                   for i, d in enumerate(right)])
        changed = Reconciler(store, config).run(NOV, record=False)
        assert found(changed) == reconcile_fresh(left, [
            attrs.evolve(d, status=Status.FINISHED) if i < later else d
            for i, d in enumerate(right)], config)


def reconcile_fresh(left: list, right: list, config: Config) -> set:
    """The records a store that never cached anything finds."""
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "s.db") as store:
        for source, dossiers in (("L", left), ("R", right)):
            with store.begin_snapshot(source=source, plugin="test", period=NOV) as writer:
                writer.add_dossiers(dossiers)
        return found(Reconciler(store, config).run(NOV, record=False))


instants = st.datetimes(dt.datetime(2025, 10, 1), dt.datetime(2026, 1, 31)).map(
    lambda t: t.replace(tzinfo=VN_TZ).isoformat(timespec="seconds"))


@given(status=st.integers(1, 10), finished=st.none() | instants, due=st.none() | instants,
       day=st.dates(dt.date(2025, 10, 1), dt.date(2026, 1, 31)).map(dt.date.isoformat))
def test_a_counted_outcome_gives_the_timeliness_of_the_matching_pass(status, finished, due, day):
    """`dossier_counts` keeps each dossier's `OUTCOME` (its due day while pending); read on
    any day, it must say what the matching pass's per-row rule says."""
    import sqlite3

    from nq57sync_storage.matching import timeliness_of_outcome, timeliness_sql
    from nq57sync_storage.schema import OUTCOME

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE x (status, finished_at, due_at)")
    conn.execute("INSERT INTO x VALUES (?, ?, ?)", (status, finished, due))
    per_row, counted = conn.execute(
        f"SELECT {timeliness_sql(day)}, (SELECT {timeliness_of_outcome(day)} FROM"
        f" (SELECT {OUTCOME} AS outcome FROM x)) FROM x").fetchone()
    assert per_row == counted


@SETTINGS
@given(plans, st.integers(1, 6))
def test_the_matching_pass_in_pieces_finds_what_one_pass_finds(plan, size):
    """A large side is matched in pieces by code range (`PIECE_SIZE`): cut anywhere, the
    result is the same, to every figure and explanation."""
    from unittest import mock

    from nq57sync_storage import matching

    n, changes = plan
    left, right, _ = inject(base_dossiers(n), changes)
    config = Config.from_dict({"reconcile": {"left": "L", "right": "R"}})
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "s.db") as store:
        for source, dossiers in (("L", left), ("R", right)):
            with store.begin_snapshot(source=source, plugin="test", period=NOV) as writer:
                writer.add_dossiers(dossiers)
        whole = Reconciler(store, config).run(NOV, record=False)
        with mock.patch.object(matching, "PIECE_SIZE", size):
            cut = Reconciler(store, config).run(NOV, record=False)
    assert cut.as_json() == whole.as_json()


@SETTINGS
@given(st.lists(dossier_changes, min_size=1, max_size=30), st.integers(-20, 20))
def test_equal_copies_seen_on_other_days_differ_only_in_what_the_day_decides(changes, shift):
    """Timeliness depends on the day each snapshot was taken: the same pending dossier may
    be within its time on one side's day and overdue on the other's. Only those differ."""
    from nq57sync_storage.matching import timeliness_sql

    dossiers = [make_dossier(i, **change) for i, change in enumerate(changes)]
    days = {"L": dt.date(2025, 11, 18), "R": dt.date(2025, 11, 18) + dt.timedelta(days=shift)}
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "s.db") as store:
        for source in ("L", "R"):
            with store.begin_snapshot(source=source, plugin="test", period=NOV) as writer:
                writer.add_dossiers(dossiers)
            store.conn.execute("UPDATE snapshots SET started_at = ? WHERE id = ?",
                               (f"{days[source]}T08:00:00+07:00", writer.result.id))
        config = Config.from_dict({"reconcile": {"left": "L", "right": "R"}})
        result = Reconciler(store, config).run(NOV, record=False)
        seen = {source: dict(store.conn.execute(
            f"SELECT code, {timeliness_sql(days[source].isoformat())} FROM dossier_current"
            " WHERE source = ?", (source,))) for source in days}
    expected = {("timeliness_mismatch", code, "timeliness") for code in seen["L"]
                if seen["L"][code] != seen["R"][code]}
    # (A dossier the left saw change lately is reported as still syncing: its base kind.)
    assert {(d.base_kind, d.dossier_code, d.field) for d in result.discrepancies} == expected
    assert bool(expected) <= (shift != 0)
