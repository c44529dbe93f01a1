"""Every hook of `nq57sync/hookspecs.py`, called through a real plugin manager.

As datasette checks that every plugin hook is documented, this module checks
that every hook is tested: a hook added without a test fails the first test.
"""

from __future__ import annotations

import ast
import types
from pathlib import Path

from sim import simulation, workspace

import nq57sync
from nq57sync import alerts
from nq57sync.hooktypes import AlertChannel, ConsistencyRule
from nq57sync.plugins import make_plugin_manager

ROOT = Path(__file__).resolve().parent.parent


def test_every_hook_is_exercised_by_a_test():
    tree = ast.parse((ROOT / "nq57sync" / "hookspecs.py").read_text(encoding="utf-8"))
    hooks = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)
             and n.name.startswith("nq57sync_")]
    assert len(hooks) >= 9
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("*.py")
                      if p.name != Path(__file__).name) + (Path(__file__).read_text(
                          encoding="utf-8").split("# -- the hooks", 1)[1])
    untested = [h for h in hooks if f"{h}(" not in tests and f".{h}" not in tests]
    assert not untested, f"hooks without a test: {untested}"


# -- the hooks the other test modules do not call themselves -------------------------

def _plugin(**hooks: object) -> types.ModuleType:
    module = types.ModuleType("test_hook_plugin")
    for name, fn in hooks.items():
        setattr(module, name, nq57sync.hookimpl(fn))
    return module


def test_fetch_aggregates_and_index_scores_through_the_built_in_plugins(tmp_path, monkeypatch):
    with simulation(monkeypatch) as sim:
        ws = workspace(sim, tmp_path / "s.db")
        for name in ("motcua", "dvcqg"):
            source = ws.source(name)
            with ws.client_for(source) as client:
                rows = ws.pm.hook.nq57sync_fetch_aggregates(source=source, period=sim.period,
                                                             client=client)
                assert len(rows) == 8 and {r.period for r in rows} == {sim.period}
                scores = ws.pm.hook.nq57sync_fetch_index_scores(source=source,
                                                                period=sim.period, client=client)
                assert (scores is None) == (name == "motcua")  # only the portal has the 766
                if scores:
                    assert len(scores) == 8 and all(0 < s.total <= 100 for s in scores)


def test_consistency_rules_and_alert_channels_from_a_plugin(tmp_path, monkeypatch):
    heard = []

    def nq57sync_consistency_rules(config):
        return [ConsistencyRule("truc_tuyen_qua_nua", "received_online > received_direct",
                                lambda m: None if m["received_online"] > m["received_direct"]
                                else "Trực tuyến chưa quá nửa.", ("received_online",))]

    def nq57sync_alert_channels(config):
        return [AlertChannel("bo-nho", heard.append)]

    plugin = _plugin(nq57sync_consistency_rules=nq57sync_consistency_rules,
                     nq57sync_alert_channels=nq57sync_alert_channels)
    with simulation(monkeypatch) as sim:
        config = nq57sync.Config.from_dict(sim.config(tmp_path / "s.db"))
        ws = nq57sync.Workspace(config, make_plugin_manager(plugin))
        ws.sync(sim.period)
        result = ws.reconcile(sim.period)
        mine = [v for v in result.rule_violations if v.rule == "truc_tuyen_qua_nua"]
        published = sim.province.published("motcua", sim.period)
        expected = {code for code, m in published.items()
                    if m["received_online"] <= m["received_direct"]}
        assert {v.agency_code for v in mine if v.source == "motcua"} == expected
        targets = alerts.channels(config, ws.pm)
        assert [c.name for c in targets][-1] == "bo-nho"
        alerts.send(alerts.make_alert("report", "Thử", "Nội dung"), targets)
        assert [a.title for a in heard] == ["Thử"]
        ws.close()


def test_import_file_through_the_hook_streams_the_export(tmp_path, monkeypatch):
    with simulation(monkeypatch) as sim:
        ws = workspace(sim, tmp_path / "s.db")
        path = sim.dvcqg.export(tmp_path / "ds.xlsx", sim.period)
        imported = ws.pm.hook.nq57sync_import_file(source=ws.source("dvcqg"), path=path)
        first = [d.code for d in imported.dossiers]
        assert first == [d.code for d in imported.dossiers]   # read again, the same rows
        assert set(first) == {c for c, d in sim.province.portal.items()
                              if sim.period.contains(d.received_at.date())}
