"""Every hook of `nq57sync/hookspecs.py`, called through a real plugin manager.

As datasette checks that every plugin hook is documented, this module checks
that every hook is tested: a hook added without a test fails the first test.
"""

from __future__ import annotations

import ast
import json
import subprocess
import types
from pathlib import Path

import attrs
import pytest
from conftest import cli_env, nq57sync_exe
from sim import simulation, workspace

import nq57sync
from nq57sync import alerts, vi
from nq57sync.hooktypes import AlertChannel, ConsistencyRule
from nq57sync.plugins import make_plugin_manager, source_classes

ROOT = Path(__file__).resolve().parent.parent


def test_every_hook_is_exercised_by_a_test():
    tree = ast.parse((ROOT / "nq57sync" / "hookspecs.py").read_text(encoding="utf-8"))
    hooks = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)
             and n.name.startswith("nq57sync_")]
    assert len(hooks) >= 4
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


def test_register_sources_gives_objects_that_fetch_for_their_own_source(tmp_path, monkeypatch):
    pm = make_plugin_manager()
    classes = {cls.plugin: cls for found in pm.hook.nq57sync_register_sources() for cls in found}
    assert set(classes) >= {"dvcqg", "motcua"}
    assert all(issubclass(c, nq57sync.Source) and c.display_name for c in classes.values())
    with simulation(monkeypatch) as sim:
        ws = workspace(sim, tmp_path / "s.db")
        for name in ("motcua", "dvcqg"):
            source = ws.source(name)
            assert type(source) is classes[name] and source.name == name
            with ws.client_for(source) as client:
                rows = source.aggregates(sim.period, client)
                assert len(rows) == 8 and {r.period for r in rows} == {sim.period}
                scores = source.index_scores(sim.period, client)
                assert (scores == []) == (name == "motcua")  # only the portal has the 766
                if scores:
                    assert len(scores) == 8 and all(0 < s.total <= 100 for s in scores)
        # Reports and messages name the systems by the classes' display names.
        assert vi.source_name("dvcqg") == classes["dvcqg"].display_name
        assert vi.source_name("motcua", short=True) == classes["motcua"].short_name


def test_a_source_that_only_imports_says_so_when_asked_to_sync(tmp_path):
    @attrs.frozen
    class FileOnly(nq57sync.Source):
        plugin = "chi-tep"
        display_name = "Tệp thử"

    def nq57sync_register_sources():
        return [FileOnly]

    config = nq57sync.Config.from_dict({"store": {"path": str(tmp_path / "s.db")},
                                        "source": [{"name": "t", "plugin": "chi-tep"}]})
    ws = nq57sync.Workspace(config, make_plugin_manager(
        _plugin(nq57sync_register_sources=nq57sync_register_sources)))
    with pytest.raises(nq57sync.UsageError, match=r"không đồng bộ qua mạng.*nq57sync import"):
        ws.sync(nq57sync.Period.parse("2025-11"))
    with pytest.raises(nq57sync.UsageError, match=r"Tệp thử.*không nhập được tệp"):
        ws.source("t").import_file(tmp_path / "x.csv")
    assert vi.source_name("t") == "Tệp thử"
    ws.close()
    bad = nq57sync.Config.from_dict({"store": {"path": str(tmp_path / "s.db")},
                                     "source": [{"name": "t", "plugin": "chi-tep", "x": 1}]})
    with pytest.raises(nq57sync.ConfigError, match="“x” không được hỗ trợ"):
        nq57sync.Workspace(bad, make_plugin_manager(
            _plugin(nq57sync_register_sources=nq57sync_register_sources)))


def test_two_plugins_may_not_register_one_source_name():
    @attrs.frozen
    class Again(nq57sync.Source):
        plugin = "dvcqg"

    def nq57sync_register_sources():
        return [Again]

    pm = make_plugin_manager(_plugin(nq57sync_register_sources=nq57sync_register_sources))
    with pytest.raises(nq57sync.ConfigError, match="Hai plugin cùng đăng ký nguồn “dvcqg”"):
        source_classes(pm)


NEW_PLUGIN = '''
import attrs
import nq57sync


@attrs.frozen
class Counted(nq57sync.Source):
    plugin = "dem"
    display_name = "Nguồn đếm thử"

    count: int

    @classmethod
    def from_config(cls, config):
        config.reject_unknown({"count"})
        return cls(config, config.option("count", int))

    def dossiers(self, period, client):
        from conftest import make_dossier
        yield nq57sync.DossierPage([make_dossier(i) for i in range(self.count)], total=self.count)


@nq57sync.hookimpl
def nq57sync_register_sources():
    return [Counted]
'''


def test_a_new_plugin_loads_from_its_entry_point_and_syncs(tmp_path):
    """A plugin written against the source-object interface, found through its entry point."""
    site = tmp_path / "site"
    (site / "nq57sync_dem-1.0.dist-info").mkdir(parents=True)
    (site / "nq57sync_dem.py").write_text(NEW_PLUGIN, encoding="utf-8")
    info = site / "nq57sync_dem-1.0.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nq57sync-dem\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[nq57sync]\ndem = nq57sync_dem\n")
    config = tmp_path / "nq57sync.toml"
    config.write_text('[store]\npath = "s.db"\n[[source]]\nname = "thu"\nplugin = "dem"\n'
                      'count = 37\n', encoding="utf-8")
    done = subprocess.run([nq57sync_exe(), "sync", "--config", str(config), "--period",
                           "2025-11", "--json"], capture_output=True, text=True,
                          env=cli_env(site, ROOT / "tests"), timeout=120)
    assert done.returncode == 0, done.stderr
    [snapshot] = json.loads(done.stdout)
    assert snapshot["source"] == "thu" and snapshot["dossiers"] == 37


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


def test_import_file_of_a_source_object_streams_the_export(tmp_path, monkeypatch):
    with simulation(monkeypatch) as sim:
        ws = workspace(sim, tmp_path / "s.db")
        path = sim.dvcqg.export(tmp_path / "ds.xlsx", sim.period)
        imported = ws.source("dvcqg").import_file(path)
        first = [d.code for d in imported.dossiers]
        assert first == [d.code for d in imported.dossiers]   # read again, the same rows
        assert set(first) == {c for c, d in sim.province.portal.items()
                              if sim.period.contains(d.received_at.date())}
