"""`nq57sync doctor --online`: the first contact, against the simulator in each deployment
profile and against a server that answers everything with an HTML page.

One screen of Vietnamese findings, at most 20 requests, nothing written, no secret shown.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sim import simulation

from nq57sync.cli import cli
from nq57sync.doctor import ONLINE_BUDGET, run_online
from nq57sync.simulators import DEPLOYMENTS, toml_text
from nq57sync.simulators.server import ERROR_PAGE, Response, SimServer

KGG = DEPLOYMENTS["kgg"]
RIGHT = {
    "igate": {},
    "kgg": {"paths": {"statistics": KGG.statistics_path},
            "statistics_params": dict(KGG.statistics_required), "page_spec": "slice",
            "status_map": {"16": 4, "17": 9, "10": 5, "11": 8, "18": 7}},
    "utc": {"date_encoding": "utc"},
}
#: A screen: what a person reads without scrolling, and sends on.
SCREEN_LINES = 25


def requests_to(*servers) -> int:
    return sum(sum(s.requests_by_path.values()) for s in servers)


def run_cli(config, tmp_path, *args):
    path = tmp_path / "nq57sync.toml"
    path.write_text(toml_text(config), encoding="utf-8")
    result = CliRunner().invoke(cli, ["doctor", "--online", "--config", str(path), *args])
    return result


def assert_safe(text: str, sim) -> None:
    for secret in (sim.motcua.password, sim.motcua.client_secret, *sim.motcua._tokens,
                   *sim.motcua._refresh):
        assert secret not in text


@pytest.mark.parametrize("profile", sorted(RIGHT))
def test_a_well_configured_deployment_answers_every_check(tmp_path, monkeypatch, profile):
    with simulation(monkeypatch, as_of=None, deployment=profile, agencies=4) as sim:
        config = sim.config(tmp_path / "s.db", motcua=RIGHT[profile])
        result = run_cli(config, tmp_path)
        sent = requests_to(sim.motcua, sim.dvcqg)
        lines = result.output.strip().splitlines()   # as wrapped for an 80-column terminal
        assert len(lines) <= SCREEN_LINES, result.output
        text = " ".join(result.output.split())
        assert 0 < sent <= ONLINE_BUDGET
        assert not (tmp_path / "s.db").exists()          # nothing written, not even a store
        assert_safe(text, sim)
        assert result.exit_code == 0, text
        assert "Đăng nhập" in text and "Tìm kiếm hồ sơ" in text and "Thống kê" in text
        assert "hiệu lực 300 giây" in text                 # the token's life, said once
        assert "Các nguồn trả lời như mong đợi." in text


def test_a_deployment_with_default_settings_is_told_which_settings_to_change(tmp_path, monkeypatch):
    with simulation(monkeypatch, as_of=None, deployment="kgg", agencies=4) as sim:
        report = run_online_for(sim, tmp_path, {})
        failed = {c.name.split(".", 1)[1]: c.detail for c in report.checks if not c.ok}
        assert "statistics_params" in failed["statistics"] and "paths.statistics" in failed[
            "statistics"]
        assert "page_spec = \"slice\"" in failed["search"]
        # Its own status ids, with their names, counts and the line to add.
        assert "16 “Đang thẩm định”" in failed["status_ids"]
        assert "status_map = {" in failed["status_ids"] and "\"16\" = 4" in failed["status_ids"]
        assert requests_to(sim.motcua, sim.dvcqg) <= ONLINE_BUDGET
        assert not (tmp_path / "s.db").exists()


def test_the_wrong_date_encoding_is_named(tmp_path, monkeypatch):
    with simulation(monkeypatch, as_of=None, deployment="kgg", agencies=6,
                    per_day=(4, 8)) as sim:
        report = run_online_for(sim, tmp_path, {**RIGHT["kgg"], "date_encoding": "utc"})
        dates = next(c for c in report.checks if c.name == "motcua.dates")
        assert not dates.ok and "date_encoding" in dates.detail
        assert "1.0" in dates.detail and "procedure_code_pattern" in dates.detail


def run_online_for(sim, tmp_path, options):
    path = tmp_path / "nq57sync.toml"
    path.write_text(toml_text(sim.config(tmp_path / "s.db", motcua=options)), encoding="utf-8")
    return run_online(path)


class HtmlEverywhere(SimServer):
    """A server (a firewall, a maintenance page) that answers every request with HTML 200."""

    def handle(self, request):
        return Response.html(ERROR_PAGE)


def test_a_server_answering_html_everywhere(tmp_path, monkeypatch):
    with simulation(monkeypatch, as_of=None, agencies=3) as sim, HtmlEverywhere() as wall:
        config = sim.config(tmp_path / "s.db")
        motcua = config["source"][0]
        motcua.update(api_url=wall.url + "/api", sso_url=wall.url + "/sso",
                      public_url=wall.url + "/cong-khai")
        result = run_cli(config, tmp_path)
        assert result.exit_code == 2
        assert len(result.output.strip().splitlines()) <= SCREEN_LINES, result.output
        text = " ".join(result.output.split())
        assert "Đăng nhập" in text and "không phải JSON" in text
        assert "Trang thống kê công khai" in text and "Hệ thống đang bận" in text
        assert requests_to(wall) <= ONLINE_BUDGET
        assert not (tmp_path / "s.db").exists()
        assert_safe(text, sim)
        # The same as JSON, for whoever helps the centre.
        as_json = json.loads(run_cli(config, tmp_path, "--json").output)
        assert as_json["healthy"] is False
        assert any(c["name"] == "motcua.login" and not c["ok"] for c in as_json["checks"])
