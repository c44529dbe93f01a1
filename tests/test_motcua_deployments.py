"""The `motcua` plugin against the simulator configured like each observed iGate deployment.

Real HTTP on loopback, a real SQLite store: the dossiers fetched are exactly the
period's, whatever the deployment's paging, date encoding, statistics path,
status ids and procedure codes; a wrong setting and a hostile answer are each one
Vietnamese sentence, with the store left as it was.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sim import simulation, workspace

from nq57sync import DataError
from nq57sync.codes import Status
from nq57sync.errors import Nq57Error
from nq57sync.model import VN_TZ
from nq57sync.simulators import DEPLOYMENTS
from nq57sync.simulators.dvcqg import DvcqgSimulator
from nq57sync.simulators.motcua import igate_record, read_range
from nq57sync_motcua.api import DEFAULT_CODES, Api, parse_dossier, translated

KGG = DEPLOYMENTS["kgg"]
#: The settings a centre on each deployment writes (docs/configuration.md).
SETTINGS = {
    "igate": {},
    "kgg": {"paths": {"statistics": KGG.statistics_path},
            "statistics_params": dict(KGG.statistics_required), "page_spec": "slice"},
    "utc": {"date_encoding": "utc"},
}
#: The `status_map` lines that map the kgg deployment's own status ids.
KGG_STATUS_MAP = {"16": 4, "17": 9, "10": 5, "11": 8, "18": 7}


def expected_codes(sim) -> set[str]:
    return {code for code, item in sim.province.onestop.items()
            if item.dossier.received_at is not None
            and sim.period.contains(item.dossier.received_at.date())}


def current_codes(ws, snapshot) -> set[str]:
    return {d.code for d in ws.store.dossiers_as_of(snapshot.id)}


def store_state(ws) -> tuple:
    """What a reader of the store sees: complete snapshots and current dossier versions."""
    snaps = tuple((s.id, s.state, s.versions_added) for s in ws.store.snapshots()
                  if s.state == "complete")
    rows = tuple(map(tuple, ws.store.query(
        "SELECT source, code, version_id FROM dossier_current ORDER BY 1, 2")))
    return snaps, rows


def one_sentence(error: Exception) -> str:
    text = str(error)
    assert "\n" not in text and text.endswith(".") and len(text) < 400, text
    return text


@pytest.mark.parametrize("profile", sorted(SETTINGS))
def test_each_deployment_yields_exactly_the_periods_dossiers(tmp_path, monkeypatch, profile):
    with simulation(monkeypatch, deployment=profile) as sim:
        ws = workspace(sim, tmp_path / "s.db", motcua={**SETTINGS[profile], "page_size": 7})
        snap = ws.sync(sim.period, "motcua")[0]
        assert snap.state == "complete"
        assert current_codes(ws, snap) == expected_codes(sim)
        # The published statistics arrived through the deployment's path and parameters.
        rows = ws.store.aggregates(snap.id)
        assert {r.agency.code for r in rows} == {a.code for a in sim.province.agencies}
        assert all(r.agency.name for r in rows)  # a name given as a list is read
        published = sim.province.published("motcua", sim.period)
        assert {r.agency.code: r.received_online for r in rows} == {
            code: row["received_online"] for code, row in published.items()}
        # Procedure codes are the national part; names arrive whatever shape translate has.
        stored = ws.store.dossiers_as_of(snap.id)
        national = {p.code for p in sim.province.procedures}
        assert {d.procedure.code for d in stored} <= national
        assert all(d.procedure.name for d in stored)
        if profile == "kgg":  # slices: paged to the end, never the first page for the list
            assert sim.motcua.requests_by_path["/api/pa/dossier/search"] > 2


def test_the_old_parameter_names_would_fetch_another_set(tmp_path, monkeypatch):
    """The server ignores names it does not know: a client sending `agency-id` and
    `from-accepted-date` gets every dossier of every date — the listing is refused."""
    with simulation(monkeypatch, agencies=3, per_day=(1, 2)) as sim:
        ws = workspace(sim, tmp_path / "s.db", motcua={
            "search_params": {"agency-id": "x"}})  # harmless extra: still ignored
        snap = ws.sync(sim.period, "motcua")[0]
        assert current_codes(ws, snap) == expected_codes(sim)
        everything = sim.motcua._search({"agency-id": sim.province.root_id,
                                         "from-accepted-date": "2025-11-01T00:00:00.000Z",
                                         "size": "100000"})
        assert len(everything["content"]) > len(expected_codes(sim))


def test_the_wrong_date_encoding_is_caught_by_the_boundary_check(tmp_path, monkeypatch):
    """On a `local_z` server, true UTC instants read the range a day early: the day before
    the period comes back, and the listing is refused naming the setting."""
    with simulation(monkeypatch, deployment="kgg") as sim:
        ws = workspace(sim, tmp_path / "s.db", motcua={**SETTINGS["kgg"], "date_encoding": "utc"})
        with pytest.raises(DataError) as caught:
            ws.sync(sim.period, "motcua")
        text = one_sentence(caught.value)
        assert "date_encoding" in text and "31/10/2025" in text
        assert [s.state for s in ws.store.snapshots()] == ["failed"]
        assert ws.store.query("SELECT count(*) AS n FROM dossier_current")[0]["n"] == 0


def test_slices_asked_as_pages_name_the_setting(tmp_path, monkeypatch):
    with simulation(monkeypatch, deployment="kgg", agencies=3) as sim:
        ws = workspace(sim, tmp_path / "s.db", motcua={
            k: v for k, v in SETTINGS["kgg"].items() if k != "page_spec"})
        with pytest.raises(DataError, match="page_spec = \"slice\""):
            ws.sync(sim.period, "motcua")


def test_the_suffixed_statistics_path_refuses_a_call_without_its_parameters(tmp_path, monkeypatch):
    with simulation(monkeypatch, deployment="kgg", agencies=3) as sim:
        ws = workspace(sim, tmp_path / "s.db", motcua={
            "paths": SETTINGS["kgg"]["paths"], "page_spec": "slice"})
        with pytest.raises(Nq57Error) as caught:
            ws.sync(sim.period, "motcua")
        assert "400" in str(caught.value) or "agencyLevel0" in str(caught.value)
        assert [s.state for s in ws.store.snapshots()] == ["failed"]


def test_unmapped_status_ids_are_kept_and_a_status_map_maps_them_without_new_versions(
        tmp_path, monkeypatch):
    with simulation(monkeypatch, deployment="kgg") as sim:
        ws = workspace(sim, tmp_path / "s.db", motcua=SETTINGS["kgg"])
        first = ws.sync(sim.period, "motcua")[0]
        assert first.state == "complete"
        records = {code: igate_record(item, KGG) for code, item in sim.province.onestop.items()
                   if code in expected_codes(sim)}
        own = {code: r["dossierStatus"] for code, r in records.items()
               if r["dossierStatus"]["id"] not in range(10)}
        assert {s["id"] for s in own.values()} >= {16, 17}
        stored = {d.code: d for d in ws.store.dossiers_as_of(first.id)}
        for code, status in own.items():
            assert stored[code].status is Status.UNMAPPED
            assert stored[code].status_raw == str(status["id"])
            assert stored[code].raw["dossierStatus"] == {"name": status["name"]}
        # With the lines added, a re-sync changes those dossiers' statuses and nothing else.
        ws2 = workspace(sim, tmp_path / "s.db", motcua={**SETTINGS["kgg"],
                                                         "status_map": KGG_STATUS_MAP})
        second = ws2.sync(sim.period, "motcua")[0]
        assert second.versions_added == len(own)
        remapped = {d.code: d for d in ws2.store.dossiers_as_of(second.id)}
        for code, status in own.items():
            assert int(remapped[code].status) == KGG_STATUS_MAP[str(status["id"])]
        assert all(remapped[c] == stored[c] for c in stored if c not in own)
        ws.close()
        ws2.close()


def test_suffixed_procedure_codes_match_national_ones_and_a_real_mismatch_is_found(
        tmp_path, monkeypatch):
    with simulation(monkeypatch, deployment="kgg") as sim:
        ws = workspace(sim, tmp_path / "s.db", motcua={**SETTINGS["kgg"],
                                                        "status_map": KGG_STATUS_MAP})
        ws.sync(sim.period)
        result = ws.reconcile(sim.period)
        planted = {i.code for i in sim.injections if i.kind == "procedure_mismatch"}
        assert planted
        found = {d.dossier_code for d in result.discrepancies if d.base_kind == "procedure_mismatch"}
        assert found == planted
        ws.close()


# -- hostile answers (item 5): refused before they land -------------------------------------

@pytest.mark.parametrize(("hostile", "spec", "words"), [
    ("year_9999", "page", "31/12/9999"),
    ("repeat_page", "page", "lặp lại"),
    ("repeat_page", "slice", "lặp lại"),
    ("duplicates", "page", "mã khác nhau"),
])
def test_a_hostile_listing_leaves_the_store_as_it_was(tmp_path, monkeypatch, hostile, spec, words):
    with simulation(monkeypatch, agencies=4) as sim:
        ws = workspace(sim, tmp_path / "s.db", motcua={"page_spec": spec, "page_size": 10})
        ws.sync(sim.period, "motcua")
        before = store_state(ws)
        sim.motcua.hostile = hostile
        sim.province.touch()
        with pytest.raises(DataError) as caught:
            ws.sync(sim.period, "motcua")
        assert words in one_sentence(caught.value)
        assert store_state(ws) == before
        ws.close()


class HostileGateway(DvcqgSimulator):
    """The national portal's legacy gateway answering the monthly service for another year."""

    def handle(self, request):
        response = super().handle(request)
        if b"NAM" not in response.body:
            return response
        rows = json.loads(response.body)
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and "NAM" in row:
                row["NAM"] = str(int(row["NAM"]) - 1)
        return type(response)(response.status, json.dumps(rows).encode(), response.content_type,
                              response.headers)


def test_a_monthly_record_for_another_year_is_an_error(tmp_path, monkeypatch):
    with simulation(monkeypatch, agencies=3) as sim, HostileGateway(sim.province) as portal:
        config = sim.config(tmp_path / "s.db", dvcqg={"base_url": portal.url,
                                                       "province_id": portal.province_id})
        import nq57sync

        ws = nq57sync.Workspace(nq57sync.Config.from_dict(config, tmp_path / "nq57sync.toml"))
        with pytest.raises(DataError) as caught:
            ws.sync(sim.period, "dvcqg")
        assert "2024" in one_sentence(caught.value) and "năm 2025" in str(caught.value)
        assert [s.state for s in ws.store.snapshots()] == ["failed"]
        ws.close()


# -- properties ----------------------------------------------------------------------------

days = st.dates(dt.date(2015, 1, 1), dt.date(2030, 12, 31))


@settings(max_examples=80, deadline=None)
@given(days, st.integers(0, 400), st.sampled_from(["local_z", "utc"]))
def test_a_range_written_in_an_encoding_reads_back_as_the_same_local_days(start, length, encoding):
    end = start + dt.timedelta(days=length)
    api = Api("http://x", "root", date_encoding=encoding)
    first, last = read_range(*api.range_values(start, end), encoding)
    assert first == dt.datetime.combine(start, dt.time(0), VN_TZ)
    assert last == dt.datetime.combine(end, dt.time(23, 59, 59, 999000), VN_TZ)
    other = "utc" if encoding == "local_z" else "local_z"
    wrong_first, _ = read_range(*api.range_values(start, end), other)
    assert wrong_first.date() != start or wrong_first.hour != 0  # the other reading shifts it


names = st.text(st.characters(codec="utf-8", categories=["L", "Zs"]), min_size=1, max_size=20
                ).filter(str.strip)


@settings(max_examples=60, deadline=None)
@given(names, st.sampled_from(["name", "object", "list"]), st.integers(0, 99),
       st.text("0123456789.H", max_size=14))
def test_any_name_shape_status_id_and_suffix_parse_without_error(name, style, status, suffix):
    from nq57sync.simulators.motcua import _names
    from nq57sync.text import printable

    record = {"code": "X-1", "procedure": {"code": "1.001612" + suffix,
                                           "translate": _names(name, style)},
              "agency": {"code": "001", "name": _names(name, style)},
              "dossierStatus": {"id": status, "name": "Tên riêng"},
              "applyMethod": {"id": 9, "name": "Trực tuyến"}, "extraField": [1, 2],
              "acceptedDate": "2025-11-03T09:00:00.000+0700"}
    dossier = parse_dossier(record)
    assert dossier.procedure.code == DEFAULT_CODES.national_procedure("1.001612" + suffix)
    assert dossier.procedure.code.startswith("1.001612")
    assert translated(record["agency"], "name", "x") == name.strip()
    assert dossier.procedure.name == printable(name.strip())  # as the model keeps any text
    assert (dossier.status is Status.UNMAPPED) == (status > 9)
    assert dossier.status_raw == str(status) and dossier.raw["extraField"] == [1, 2]


# -- figures_as_of = "auto" ------------------------------------------------------------------

def _published_violations(result, source="motcua") -> set[tuple[str, str]]:
    return {(v.agency_code, v.values["metric"]) for v in result.rule_violations
            if v.rule == "published_vs_dossiers" and v.source == source}


@pytest.mark.parametrize("convention", ["period_end", "snapshot"])
def test_auto_finds_the_convention_the_published_figures_follow(tmp_path, monkeypatch, convention):
    import attrs

    from nq57sync import Period

    deployment = attrs.evolve(DEPLOYMENTS["igate"], figures_as_of=convention)
    with simulation(monkeypatch, as_of=None, deployment=deployment) as sim:
        first = min(i.dossier.received_at for i in sim.province.onestop.values()).date()
        # From the first day the system holds: nothing is carried in from before, so the
        # outcome figures (resolved, pending) are compared too.
        period = Period.parse(f"{first.replace(day=1)}..{sim.period.end}")
        agency = sorted(a.code for a in sim.province.agencies)[0]
        sim.province.published_offsets[("motcua", agency, "resolved_on_time")] = 3
        planted = {(i.code, i.field) for i in sim.injections
                   if i.kind == "published_vs_dossiers" and i.note == "motcua"}
        planted.add((agency, "resolved_on_time"))
        ws = workspace(sim, tmp_path / "s.db")
        ws.sync(period)
        result = ws.reconcile(period)
        named = [n for n in result.notes if n.startswith("Một cửa công bố số liệu tính đến")]
        wanted = "thời điểm lấy, không phải cuối kỳ" if convention == "snapshot" else (
            "cuối kỳ, không phải thời điểm lấy")
        assert len(named) == 1 and wanted in named[0], result.notes
        assert _published_violations(result) == planted
        # Assumed the wrong way, the same figures give a violation for most agencies.
        wrong = "snapshot" if convention == "period_end" else "period_end"
        ws2 = workspace(sim, tmp_path / "s.db", reconcile={"figures_as_of": wrong})
        assumed = ws2.reconcile(period, record=False)
        assert len({a for a, _ in _published_violations(assumed)}) > len(sim.province.agencies) // 2
        ws.close()
        ws2.close()


# -- unmapped status ids, reported everywhere ------------------------------------------------

def test_unmapped_status_ids_are_listed_by_sync_doctor_reconcile_report_and_dashboard(
        tmp_path, monkeypatch):
    import httpx
    from click.testing import CliRunner
    from test_dashboard import serving

    from nq57sync import Config
    from nq57sync.cli import cli
    from nq57sync.simulators import toml_text
    from nq57sync.web.app import create_app

    with simulation(monkeypatch, deployment="kgg", agencies=5) as sim:
        config = sim.config(tmp_path / "s.db", motcua=SETTINGS["kgg"])
        path = tmp_path / "nq57sync.toml"
        path.write_text(toml_text(config), encoding="utf-8")
        records = [igate_record(item, KGG) for code, item in sim.province.onestop.items()
                   if code in expected_codes(sim)]
        wanted: dict[str, int] = {}
        for r in records:
            if r["dossierStatus"]["id"] not in range(10):
                wanted[str(r["dossierStatus"]["id"])] = wanted.get(
                    str(r["dossierStatus"]["id"]), 0) + 1
        assert "16" in wanted

        def run(*args):
            result = CliRunner().invoke(cli, [*args, "--config", str(path)])
            return result, " ".join(result.output.split())

        line = "status_map = { " + ", ".join(
            f"\"{k}\" = 4" for k in sorted(wanted, key=lambda k: (len(k), k))) + " }"
        synced, text = run("sync", "--period", sim.period.label)
        assert synced.exit_code == 0, text
        assert "mã trạng thái chưa ánh xạ" in text and f"16 “Đang thẩm định”: {wanted['16']}" in text
        assert line in text
        doctor, text = run("doctor")
        assert doctor.exit_code == 2  # something to act on
        assert "Mã trạng thái chưa ánh xạ" in text and line in text
        reconciled, _ = run("reconcile", "--period", sim.period.label, "--format", "json")
        coverage = json.loads(reconciled.output)["coverage"]
        assert coverage["unmapped_status_ids"] == wanted
        assert coverage["unmapped_status_names"]["16"] == "Đang thẩm định"
        assert coverage["status_map_line"] == line
        run("report", "--period", sim.period.label, "--format", "md", "--output",
            str(tmp_path / "r.md"))
        report = " ".join((tmp_path / "r.md").read_text(encoding="utf-8").split())
        assert "16 “Đang thẩm định”" in report and line in report
        dash = Config.from_dict({"store": {"path": str(tmp_path / "s.db")},
                                 "reconcile": {"left": "motcua", "right": "dvcqg"}})
        with serving(create_app(dash)) as url:
            page = httpx.get(url + "/", timeout=60).text
        assert "Đang thẩm định" in page and "status_map" in page


@pytest.mark.parametrize(("options", "key"), [
    ({"status_map": {"16": 0}}, "status_map.16"),
    ({"status_map": {"16": "bốn"}}, "status_map.16"),
    ({"status_map": {"x": 4}}, "status_map.x"),
    ({"channel_map": {"5": 9}}, "channel_map.5"),
    ({"page_spec": "cursor"}, "page_spec"),
    ({"date_encoding": "local"}, "date_encoding"),
    ({"procedure_code_pattern": "^(\\d+"}, "procedure_code_pattern"),
    ({"statistics_params": {"agencyLevel0": ["a"]}}, "statistics_params.agencyLevel0"),
])
def test_a_wrong_deployment_key_is_a_configuration_error_naming_it(tmp_path, options, key):
    import nq57sync
    from nq57sync import ConfigError

    config = {"source": [{"name": "motcua", "plugin": "motcua", "api_url": "http://127.0.0.1:9",
                          "sso_url": "http://127.0.0.1:9", "realm": "digo", "client_id": "c",
                          "username_env": "U", "password_env": "P", "root_agency_id": "r",
                          **options}]}
    with pytest.raises(ConfigError, match=f"khóa “{key}”"):
        nq57sync.Workspace(nq57sync.Config.from_dict(config, tmp_path / "nq57sync.toml"))


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 120), st.lists(st.integers(1, 30), max_size=8), st.data())
def test_a_listing_passes_whole_and_a_repeated_page_never_does(n, cuts, data):
    """Distinct dossiers cut into pages pass unchanged; the same listing with any page
    served again (as a later page) is refused."""
    from conftest import make_dossier

    from nq57sync import Period
    from nq57sync.hooktypes import DossierPage
    from nq57sync_motcua.api import checked_listing

    dossiers = [make_dossier(i) for i in range(n)]
    pages, start = [], 0
    for cut in [*cuts, n]:
        pages.append(DossierPage(dossiers[start:start + cut]))
        start += cut
        if start >= n:
            break
    period = Period.parse("2025-11")
    assert [d for p in checked_listing(pages, period) for d in p.dossiers] == dossiers[:start]
    served = [p for p in pages if p.dossiers]
    if served:
        again = data.draw(st.sampled_from(served))
        where = data.draw(st.integers(served.index(again) + 1, len(served)))
        hostile = [*served[:where], again, *served[where:]]
        with pytest.raises(DataError):
            list(checked_listing(hostile, period))
