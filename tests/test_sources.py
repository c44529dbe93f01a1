"""Both plugins over real loopback HTTP against the simulators, and the client they share."""

import itertools
import logging
import time

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sim import simulation, workspace

from nq57sync import AuthError, BudgetExhausted, DataError, SourceError, Status
from nq57sync.http import RateLimiter, SourceClient
from nq57sync.model import METRICS
from nq57sync.simulators import FAULT_KINDS, Faults
from nq57sync_storage import Store


def test_both_plugins_sync_a_month_and_a_second_sync_stores_only_changes(tmp_path, monkeypatch):
    with simulation(monkeypatch) as sim:
        ws = workspace(sim, tmp_path / "s.db")
        left, right = ws.sync(sim.period)
        expected_left = {c for c, d in sim.province.onestop.items()
                         if sim.period.contains(d.dossier.received_at.date())}
        stored_left = {d.code for d in ws.store.dossiers_as_of(left.id)}
        assert stored_left == expected_left and left.dossier_count == len(expected_left)
        # DVCQG is pulled a week beyond the period, to find copies whose date moved.
        stored_right = {d.code for d in ws.store.dossiers_as_of(right.id, within_scope=False)}
        assert {c for c, d in sim.province.portal.items()
                if sim.period.contains(d.received_at.date())} <= stored_right
        assert left.aggregate_count == 8 and right.aggregate_count == 8 and right.index_count == 8
        assert sim.motcua.logins == 1

        # The officers finish three dossiers; only those three get new versions.
        changed = sorted(c for c in expected_left
                         if sim.province.onestop[c].dossier.status == Status.IN_PROCESS)[:3]
        assert len(changed) == 3
        for code in changed:
            item = sim.province.onestop[code]
            sim.province.onestop[code] = attrs.evolve(
                item, dossier=attrs.evolve(item.dossier, status=Status.FINISHED,
                                           finished_at=sim.province.as_of))
        sim.province.touch()
        left2, right2 = ws.sync(sim.period)
        assert (left2.versions_added, right2.versions_added) == (3, 0)
        assert {d.code: d.status for d in ws.store.dossiers_as_of(left2.id)
                if d.code in changed} == dict.fromkeys(changed, Status.FINISHED)


def test_canonical_mapping_keeps_the_source_codes_and_what_no_column_holds(tmp_path, monkeypatch):
    with simulation(monkeypatch) as sim:
        ws = workspace(sim, tmp_path / "s.db")
        left, right = ws.sync(sim.period)
        code, item = next((c, i) for c, i in sorted(sim.province.onestop.items())
                          if sim.period.contains(i.dossier.received_at.date())
                          and i.dossier.status == Status.RETURNED and c in sim.province.portal)
        mine = {d.code: d for d in ws.store.dossiers_as_of(left.id)}[code]
        theirs = {d.code: d for d in ws.store.dossiers_as_of(right.id, within_scope=False)}[code]
        assert mine.status is Status.RETURNED and mine.status_raw == "6"      # iGate id 6
        assert theirs.status is Status.RETURNED and theirs.status_raw == "10"  # TrangThaiHoSo
        # `raw` keeps what no column holds: the record's and the agency's ids, the names
        # of status and method; a national package record has nothing else.
        assert mine.raw["dossierStatus"] == {"name": "Đã trả kết quả"}
        assert set(mine.raw) == {"id", "agency", "applyMethod", "dossierStatus", "appliedDate",
                                 "procedure"}
        # The local procedure code (national part + the deployment's suffix) is kept aside.
        assert mine.raw["procedure"]["code"] == mine.procedure.code + ".000.00.00.H26"
        assert set(mine.raw["agency"]) == {"id"} and theirs.raw == {}
        assert mine.received_at == theirs.received_at == item.dossier.received_at
        assert mine.finished_at == item.dossier.finished_at


@pytest.mark.parametrize("statistics_from", ["api", "public"])
def test_twenty_percent_faults_give_the_same_data_as_a_clean_run(tmp_path, monkeypatch,
                                                                  statistics_from):
    """Every kind of fault on every endpoint (the login and the public page included)."""
    options = {"motcua": {"statistics_from": statistics_from}}
    with simulation(monkeypatch) as sim:
        clean = [s.content_hash
                 for s in workspace(sim, tmp_path / "clean.db", **options).sync(sim.period)]
        for server in (sim.dvcqg, sim.motcua):
            server.faults = Faults(rate=0.2, kinds=FAULT_KINDS, seed=3, retry_after="0",
                                   slow_seconds=0.05)
        ws = workspace(sim, tmp_path / "faulty.db", max_retries=12, page_size=50, **options)
        faulty = ws.sync(sim.period)
        assert [s.content_hash for s in faulty] == clean
        assert sim.motcua.refreshes + sim.motcua.logins >= 2  # a token expired mid-sync


def test_login_refresh_and_public_page_are_retried_like_every_request(tmp_path, monkeypatch):
    """HTML with status 200, a 503 and a dropped connection at the token endpoint (first
    login and the refresh after a revoked token), the public statistics page and the
    portal's gateway: the sync completes with a clean run's data."""
    with simulation(monkeypatch) as sim:
        options = {"motcua": {"statistics_from": "public"}}
        clean = [s.content_hash for s in workspace(sim, tmp_path / "clean.db", **options)
                 .sync(sim.period)]
        logins, refreshes = sim.motcua.logins, sim.motcua.refreshes
        each = ["html_200", "http_503", "drop"]
        sim.motcua.faults = Faults(script={
            "/openid-connect/token": [*each, "ok", *each],   # the login, then the refresh
            "/pa/dossier/search": ["expire"],                # revokes the first token
            "/thong-ke": list(each)})
        sim.dvcqg.faults = Faults(script={"/jsp/rest.jsp": list(each)})
        ws = workspace(sim, tmp_path / "faulty.db", max_retries=4, **options)
        assert [s.content_hash for s in ws.sync(sim.period)] == clean
        assert sim.motcua.logins == logins + 1 and sim.motcua.refreshes == refreshes + 1
        assert all(not queue for queue in sim.motcua.faults.script.values())
        assert not sim.dvcqg.faults.script["/jsp/rest.jsp"]


def test_only_an_oauth_rejection_stops_a_login_at_once(tmp_path, monkeypatch):
    """A 401 with an HTML body is a proxy's page, retried; `invalid_grant` is final."""
    with simulation(monkeypatch) as sim:
        monkeypatch.setenv("NQ57SYNC_SIM_PASSWORD", "wrong-password-123")
        ws = workspace(sim, tmp_path / "s.db", max_retries=4)
        with pytest.raises(AuthError):
            ws.sync(sim.period, "motcua")
        assert sim.motcua.requests_by_path[
            f"/sso/auth/realms/{sim.motcua.realm}/protocol/openid-connect/token"] == 1


@pytest.mark.parametrize(("fault", "error", "words"), [
    ("http_500", SourceError, "không trả lời được sau"),
    ("html_200", DataError, "không phải JSON: “<!DOCTYPE html>”"),
    ("drop", SourceError, "mất kết nối"),
])
def test_permanent_faults_fail_clearly_and_leave_no_partial_snapshot(tmp_path, monkeypatch,
                                                                     fault, error, words):
    with simulation(monkeypatch) as sim:
        ws = workspace(sim, tmp_path / "s.db", max_retries=2)
        ws.sync(sim.period, "dvcqg")
        before = ws.store.query("SELECT * FROM dossier_versions ORDER BY id")
        sim.dvcqg.faults = Faults(permanent=fault)
        with pytest.raises(error) as info:
            ws.sync(sim.period, "dvcqg")
        assert words in str(info.value) and "dvcqg" in str(info.value)
        assert ws.store.snapshots()[0].state == "failed"
        assert ws.store.query("SELECT * FROM dossier_versions ORDER BY id") == before


def test_wrong_password_is_an_authentication_error(tmp_path, monkeypatch):
    with simulation(monkeypatch) as sim:
        monkeypatch.setenv("NQ57SYNC_SIM_PASSWORD", "wrong-password-123")
        ws = workspace(sim, tmp_path / "s.db")
        with pytest.raises(AuthError, match="từ chối thông tin xác thực"):
            ws.sync(sim.period, "motcua")
        assert [s.state for s in ws.store.snapshots()] == ["failed"]
        assert ws.store.version_count() == 0


def test_the_daily_budget_stops_a_sync_and_survives_a_restart(tmp_path, monkeypatch):
    with simulation(monkeypatch) as sim:
        ws = workspace(sim, tmp_path / "s.db", daily_request_budget=3)
        with pytest.raises(BudgetExhausted, match="hạn mức 3 yêu cầu"):
            ws.sync(sim.period, "dvcqg")
        ws.close()
        again = workspace(sim, tmp_path / "s.db", daily_request_budget=3)
        with pytest.raises(BudgetExhausted):
            again.sync(sim.period, "dvcqg")
        assert sum(sim.dvcqg.requests_by_path.values()) == 3
        assert {s.state for s in again.store.snapshots()} == {"failed"}


def test_a_portal_that_says_come_back_tomorrow_fails_at_once(tmp_path, monkeypatch):
    with simulation(monkeypatch) as sim:
        sim.dvcqg.faults = Faults(daily_budget=3)
        ws = workspace(sim, tmp_path / "s.db")
        with pytest.raises(SourceError, match="yêu cầu chờ 86400 giây"):
            ws.sync(sim.period, "dvcqg")


def test_public_statistics_page_gives_the_same_figures_as_the_api(tmp_path, monkeypatch):
    with simulation(monkeypatch) as sim:
        api = workspace(sim, tmp_path / "a.db").sync(sim.period, "motcua")[0]
        public = workspace(sim, tmp_path / "p.db", motcua={"statistics_from": "public"}).sync(sim.period,
                                                                                   "motcua")[0]
        # The API publishes the parts (the plugin adds them up); the page prints its totals.
        parts = [m for m in METRICS if not m.endswith("_total")]
        with Store(tmp_path / "a.db") as a, Store(tmp_path / "p.db") as p:
            from_api = [(r.agency.code, [getattr(r, m) for m in parts]) for r in a.aggregates(api.id)]
            from_page = [(r.agency.code, [getattr(r, m) for m in parts])
                         for r in p.aggregates(public.id)]
            assert from_api == from_page and len(from_api) == 8
            assert sum(r.received_total for r in a.aggregates(api.id)) > 100


def test_secrets_never_reach_logs_or_the_store(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    with simulation(monkeypatch) as sim:
        sim.motcua.faults = Faults(rate=0.3, kinds=("token_expiry", "http_500"), seed=5)
        ws = workspace(sim, tmp_path / "s.db", max_retries=10, motcua={"page_size": 20})
        ws.sync(sim.period, "motcua")
        assert sim.motcua.refreshes >= 1
        tokens = list(sim.motcua._tokens) + list(sim.motcua._refresh)
        secrets = [sim.motcua.password, *tokens]
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "thử lại" in logged  # the retries were logged …
        for secret in secrets:
            assert secret not in logged  # … and nothing secret with them
        ws.close()
        data = b"".join(p.read_bytes() for p in tmp_path.glob("s.db*"))
        for secret in secrets:
            assert secret.encode() not in data


def test_rate_limit_is_never_exceeded(tmp_path, monkeypatch):
    """Four threads share one limit: by `start + k / rate` the server has had at most k + 1
    requests. (Arrivals, not a sliding window: a request the machine delayed can land
    next to the following one without the client having sent them early.)"""
    with simulation(monkeypatch) as sim:
        ws = workspace(sim, tmp_path / "s.db", requests_per_second=10, max_concurrency=4,
                       page_size=40)
        start = time.monotonic()  # the simulator stamps arrivals with the same clock
        ws.sync(sim.period, "dvcqg")
        arrivals = sorted(sim.dvcqg.request_times)
        assert len(arrivals) >= 15
        assert all(t >= start + k / 10 for k, t in enumerate(arrivals))


@given(st.lists(st.tuples(st.floats(0, 0.5), st.integers(1, 4)), min_size=1, max_size=60))
def test_the_limiter_never_reserves_two_slots_closer_than_its_interval(calls):
    """Whatever the pauses between callers and however many call at once."""
    now = [100.0]
    limiter = RateLimiter(10, clock=lambda: now[0])
    slots = []
    for pause, callers in calls:
        now[0] += pause
        for _ in range(callers):
            slots.append(now[0] + limiter.delay())
    assert all(slot >= 100.0 for slot in slots)
    assert all(b - a >= 0.1 - 1e-9 for a, b in itertools.pairwise(slots))


def test_a_listing_is_read_whole_in_order_or_refused():
    """Paging reads every page in order; a listing ending short of its own total is an error."""
    rows = list(range(2_503))

    def fetch(index: int, ends_at: int = len(rows)) -> tuple[int, list[int]]:
        return len(rows), rows[index * 500:min((index + 1) * 500, ends_at)]

    with SourceClient("thu", requests_per_second=0, max_concurrency=3) as client:
        pages = list(client.paged(fetch, 0, 500, "Nguồn thử"))
        assert [row for page in pages for row in page.dossiers] == rows
        assert {page.total for page in pages} == {len(rows)}
        with pytest.raises(DataError) as info:
            list(client.paged(lambda index: fetch(index, ends_at=1_800), 0, 500, "Nguồn thử"))
    assert str(info.value) == ("Nguồn thử báo 2.503 hồ sơ nhưng chỉ trả về 1.800; danh sách thay đổi "
                               "trong lúc đồng bộ, hãy chạy lại.")
