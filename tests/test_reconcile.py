"""Reconciliation end to end: both simulators, every kind planted, the exact JSON."""

import json
import subprocess

import attrs
import pytest
from conftest import nq57sync_exe
from sim import simulation, workspace

from nq57sync import ConfigError, Period
from nq57sync.codes import Status
from nq57sync.reconcile import discrepancy_id

# `sync_pending` depends on the age of a change, so these tests run on today's clock.
NOW = {"as_of": None}


def expected_records(sim):
    """The discrepancy records the planted scenario must produce, from the data itself."""
    left = {c: i.dossier for c, i in sim.province.onestop.items()}
    right = sim.province.portal
    out = []
    for inj in sim.injections:
        if inj.kind in ("alt_code", "published_vs_dossiers"):
            continue
        field = inj.field
        lv = rv = None
        if inj.kind in ("missing_in_right", "missing_in_left"):
            d = right[inj.code] if inj.kind == "missing_in_left" else left[inj.code]
            agency, procedure = d.agency.code, d.procedure.code
        else:
            ld, rd = left[inj.code], right[inj.code]
            agency, procedure = ld.agency.code, ld.procedure.code
            if field == "status":
                lv, rv = str(int(ld.status)), str(int(rd.status))
            elif field == "timeliness":
                lv, rv = "on_time", "late"
            elif field in ("channel",):
                lv, rv = str(int(ld.channel)), str(int(rd.channel))
            elif field == "procedure_code":
                lv, rv = ld.procedure.code, rd.procedure.code
            elif field == "agency_code":
                lv, rv = ld.agency.code, rd.agency.code
            else:
                lv = None if getattr(ld, field) is None else getattr(ld, field).isoformat()
                rv = None if getattr(rd, field) is None else getattr(rd, field).isoformat()
        base = {"sync_pending": "status_mismatch" if field == "status" else "date_mismatch"}.get(
            inj.kind, inj.kind)
        out.append({"id": discrepancy_id("motcua", "dvcqg", inj.code, base, field),
                    "kind": inj.kind, "dossier_code": inj.code, "agency_code": agency,
                    "procedure_code": procedure, "field": field, "left": lv, "right": rv,
                    "state": "new"})
    # Dossiers the one-stop system changed in the last half hour have not been pushed yet:
    # the simulator leaves them off the portal, so reconciling on today's clock reports them.
    planted = {inj.code for inj in sim.injections}
    for code, d in left.items():
        if (code not in right and code not in planted and d.synced_at is None
                and sim.period.contains(d.received_at.date())):
            out.append({"id": discrepancy_id("motcua", "dvcqg", code, "missing_in_right", None),
                        "kind": "sync_pending", "dossier_code": code,
                        "agency_code": d.agency.code, "procedure_code": d.procedure.code,
                        "field": None, "left": None, "right": None, "state": "new"})
    return sorted(out, key=lambda r: r["id"])


def test_every_kind_planted_is_reported_exactly(tmp_path, monkeypatch):
    with simulation(monkeypatch, **NOW, agencies=12) as sim:
        ws = workspace(sim, tmp_path / "s.db")
        left, right = ws.sync(sim.period)
        result = ws.reconcile(sim.period).as_json()
        got = sorted(({k: v for k, v in d.items() if k not in ("first_seen", "action")}
                      for d in result["discrepancies"]), key=lambda r: r["id"])
        assert got == expected_records(sim)
        assert all(d["action"] and d["first_seen"] for d in result["discrepancies"])
        assert result["period"] == {"start": sim.period.start.isoformat(),
                                    "end": sim.period.end.isoformat(), "convention": "calendar"}
        assert (result["left"]["snapshot"], result["right"]["snapshot"]) == (left.id, right.id)
        summary = result["summary"]
        assert summary["discrepancies"] == len(got) == sum(summary["by_kind"].values())
        assert set(summary["by_kind"]) == {
            "missing_in_right", "missing_in_left", "status_mismatch", "timeliness_mismatch",
            "channel_mismatch", "procedure_mismatch", "agency_mismatch", "date_mismatch",
            "sync_pending"}
        # The published figures planted wrong are caught by the arithmetic rules.
        rules = {(v["rule"], v["source"], v["agency_code"]) for v in result["rule_violations"]}
        planted = [i for i in sim.injections if i.kind == "published_vs_dossiers"]
        dvcqg_online = next(i for i in planted if i.note == "dvcqg")
        assert ("published_vs_dossiers", "dvcqg", dvcqg_online.code) in rules
        assert ("received_parts", "dvcqg", dvcqg_online.code) in rules
        motcua_late = next(i for i in planted if i.note == "motcua")
        assert ("received_balance", "motcua", motcua_late.code) in rules
        # Published figures of the same calendar month are compared, with explanations.
        ids = {d["id"] for d in result["discrepancies"]}
        for a in result["aggregates"]:
            assert a["basis"] == "published"
            assert a["difference"] == a["left"] - a["right"] == a["explained"] + a["unexplained"]
            assert set(a["explained_by"]) <= ids
        # A dossier missing on the right explains its agency's received total, where that
        # total differs (a dossier missing on the left, or moved to the agency on the right,
        # can even it out: which agencies the scenario picks depends on the day it runs).
        totals = {a["agency_code"]: a for a in result["aggregates"]
                  if a["metric"] == "received_total"}
        missing = [d for d in result["discrepancies"] if d["kind"] == "missing_in_right"]
        assert len(missing) == 2
        for d in missing:
            if d["agency_code"] in totals:
                assert d["id"] in totals[d["agency_code"]]["explained_by"]


def test_lifecycle_keeps_ids_and_resolves_what_was_healed(tmp_path, monkeypatch):
    with simulation(monkeypatch, **NOW) as sim:
        ws = workspace(sim, tmp_path / "s.db")
        ws.sync(sim.period)
        first = ws.reconcile(sim.period)
        second = ws.reconcile(sim.period)
        assert [d.id for d in first.discrepancies] == [d.id for d in second.discrepancies]
        assert {d.state for d in second.discrepancies} == {"open"}
        assert all(a.first_seen == b.first_seen
                   for a, b in zip(first.discrepancies, second.discrepancies, strict=True))
        # An officer pushes one dossier again: its copy on DVCQG now agrees.
        healed = next(d for d in first.discrepancies if d.kind == "channel_mismatch")
        truth = sim.province.onestop[healed.dossier_code].dossier
        sim.province.portal[healed.dossier_code] = attrs.evolve(
            sim.province.portal[healed.dossier_code], channel=truth.channel)
        sim.province.touch()
        ws.sync(sim.period, "dvcqg")
        third = ws.reconcile(sim.period)
        assert [d.id for d in third.resolved] == [healed.id]
        assert third.resolved[0].state == "resolved"
        assert healed.id not in {d.id for d in third.discrepancies}
        assert len(third.discrepancies) == len(first.discrepancies) - 1


def test_different_period_conventions_are_not_compared_as_published(tmp_path, monkeypatch):
    with simulation(monkeypatch, **NOW) as sim:
        ws = workspace(sim, tmp_path / "s.db")
        nd09 = Period.parse(f"{sim.period.end:%Y-%m}@nd09")
        ws.sync(nd09)
        result = ws.reconcile(nd09)
        assert result.notes and "không cùng kỳ" in result.notes[0]
        assert {a.basis for a in result.aggregates} == {"dossiers"}
        assert all(a.unexplained == 0 for a in result.aggregates)


def test_user_rules_from_the_configuration(tmp_path, monkeypatch):
    with simulation(monkeypatch) as sim:
        ws = workspace(sim, tmp_path / "s.db", reconcile={"rule": [
            {"name": "it_truc_tuyen", "expression": "received_online >= 10 * received_total"},
            {"name": "dung_sai", "expression": "received_total == received_total + 1",
             "tolerance": 1}]})
        ws.sync(sim.period)
        names = {v.rule for v in ws.reconcile(sim.period).rule_violations}
        assert "it_truc_tuyen" in names and "dung_sai" not in names
        bad = workspace(sim, tmp_path / "b.db", reconcile={"rule": [
            {"name": "sai", "expression": "__import__('os')"}]})
        bad.sync(sim.period, "motcua")
        bad.sync(sim.period, "dvcqg")
        with pytest.raises(ConfigError, match="Quy tắc “sai”"):
            bad.reconcile(sim.period)


def test_reconcile_command_formats_and_exit_code(tmp_path, monkeypatch):
    with simulation(monkeypatch, **NOW) as sim:
        config = sim.config(tmp_path / "s.db")
        lines = ['[store]', f'path = "{tmp_path / "s.db"}"', '[reconcile]',
                 'left = "motcua"', 'right = "dvcqg"']
        for source in config["source"]:
            lines.append("[[source]]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in source.items()]
        (tmp_path / "nq57sync.toml").write_text("\n".join(lines), encoding="utf-8")
        env = {**__import__("os").environ, **sim.environment(), "COLUMNS": "200"}

        def run(*args):
            return subprocess.run([nq57sync_exe(), *args], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=120)

        assert run("sync", "--period", sim.period.label).returncode == 0
        as_json = run("reconcile", "--period", sim.period.label, "--format", "json")
        assert as_json.returncode == 0
        data = json.loads(as_json.stdout)
        assert data["summary"]["discrepancies"] == len(data["discrepancies"]) > 0
        table = run("reconcile", "--period", sim.period.label)
        assert "Sai lệch theo loại" in table.stdout and "Lệch trạng thái" in table.stdout
        csv_out = run("reconcile", "--period", sim.period.label, "--format", "csv", "--output",
                      "sai-lech.csv", "--exit-code")
        assert csv_out.returncode == 1
        raw = (tmp_path / "sai-lech.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads the Vietnamese as UTF-8
        rows = raw.decode("utf-8-sig").splitlines()
        assert rows[0].startswith("id,kind,dossier_code") and len(rows) == len(data["discrepancies"]) + 1
        missing = run("reconcile", "--period", "2024-01")
        assert missing.returncode == 2 and "Chưa có ảnh chụp hoàn tất" in missing.stderr


def test_status_codes_in_actions_are_named_in_vietnamese(tmp_path, monkeypatch):
    with simulation(monkeypatch, **NOW) as sim:
        ws = workspace(sim, tmp_path / "s.db")
        ws.sync(sim.period)
        status = next(d for d in ws.reconcile(sim.period).discrepancies
                      if d.kind == "status_mismatch")
        assert "Đã trả kết quả" in status.action and Status(int(status.right))


def test_every_published_figure_is_recomputed_and_only_the_wrong_one_is_blamed(
        tmp_path, monkeypatch):
    """With the month before synced too, the dossiers determine every published figure:
    a clean province gives no `published_vs_dossiers` at all; a portal that publishes 3
    more dossiers resolved on time than its own dossiers show is blamed for that figure
    alone, with both values."""
    with simulation(monkeypatch, scenario=False) as sim:
        ws = workspace(sim, tmp_path / "s.db")
        ws.sync(Period.parse("2025-10"))
        ws.sync(sim.period)
        clean = ws.reconcile(sim.period)
        assert [v for v in clean.rule_violations if v.rule == "published_vs_dossiers"] == []
        assert not [n for n in clean.notes if "kỳ trước chuyển qua" in n]

        agency = sorted(a.code for a in sim.province.agencies)[3]
        sim.province.published_offsets[("dvcqg", agency, "resolved_on_time")] = 3
        sim.province.touch()
        ws.sync(sim.period, "dvcqg")
        result = ws.reconcile(sim.period)
        blamed = [v for v in result.rule_violations
                  if v.rule == "published_vs_dossiers" and v.agency_code == agency]
        assert len(blamed) == 1
        values = blamed[0].values
        assert values["metric"] == "resolved_on_time" and values["difference"] == 3
        assert values["published"] == values["dossiers"] + 3
        published = sim.province.published("dvcqg", sim.period, [agency])[agency]
        assert values["published"] == published["resolved_on_time"]
        assert "giải quyết đúng hạn là" in blamed[0].detail and "(lệch +3)" in blamed[0].detail
        assert [v for v in result.rule_violations if v.rule == "published_vs_dossiers"] == blamed


def test_outcome_figures_are_not_blamed_without_the_dossiers_carried_over(tmp_path, monkeypatch):
    with simulation(monkeypatch, scenario=False) as sim:
        agency = sorted(a.code for a in sim.province.agencies)[0]
        sim.province.published_offsets[("dvcqg", agency, "resolved_on_time")] = 3
        ws = workspace(sim, tmp_path / "s.db")
        ws.sync(sim.period)                  # October's open dossiers are not in the store
        result = ws.reconcile(sim.period)
        assert [v for v in result.rule_violations if v.rule == "published_vs_dossiers"] == []
        assert any("kỳ trước chuyển qua" in n for n in result.notes)


@pytest.mark.parametrize(("channel", "timeliness", "withdrawn", "expected"), [
    (2, "early", False, {"received_online", "resolved_early", "resolved_total"}),
    (1, "on_time", False, {"received_direct", "resolved_on_time", "resolved_total"}),
    (3, "late", False, {"received_postal", "resolved_late", "resolved_total"}),
    (2, "in_time", False, {"received_online", "pending_in_time", "pending_total"}),
    (1, "overdue", False, {"received_direct", "pending_overdue", "pending_total"}),
    (2, None, True, {"received_online", "withdrawn"}),
    (3, None, False, {"received_postal", "rejected"}),
])
def test_a_dossier_counts_in_the_standard_form_metrics_of_its_channel_and_outcome(
        channel, timeliness, withdrawn, expected):
    """One rule (`metrics_of`) makes both the recomputed figures and the differences that
    explain them: every dossier is received once and ends in one outcome."""
    from nq57sync.reconcile.figures import fold_figures
    from nq57sync_storage.matching import Cell

    folded = fold_figures([Cell("H31", channel, timeliness, withdrawn, 3)])["H31"]
    assert {metric for metric, count in folded.items() if count} == expected | {"received_total"}
    assert all(folded[metric] == 3 for metric in expected)
