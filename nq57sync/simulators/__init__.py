"""Loopback simulators of DVCQG and the one-stop system, and a harness for both.

    with Simulation.start(seed=57) as sim:
        ws = nq57sync.Workspace(nq57sync.Config.from_dict(sim.config(store)))
        ws.sync(sim.period)

Used by the tests, the demo and the benchmarks; anyone may point the plugins
at them instead of the real systems.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from nq57sync.period import Period
from nq57sync.simulators.dataset import Injection, Province
from nq57sync.simulators.dvcqg import DvcqgSimulator
from nq57sync.simulators.motcua import DEPLOYMENTS, Deployment, MotcuaSimulator
from nq57sync.simulators.scenario import KINDS, Scenario
from nq57sync.simulators.server import FAULT_KINDS, Faults

#: Environment variables the simulated one-stop login reads (values are fake).
USERNAME_ENV, PASSWORD_ENV = "NQ57SYNC_SIM_USERNAME", "NQ57SYNC_SIM_PASSWORD"


@attrs.define
class Simulation:
    """Both simulators over one province, started and stopped together."""

    province: Province
    period: Period
    dvcqg: DvcqgSimulator
    motcua: MotcuaSimulator
    injections: list[Injection]

    @classmethod
    @contextlib.contextmanager
    def start(
        cls,
        seed: int = 57,
        *,
        period: Period | None = None,
        as_of: dt.datetime | None = None,
        agencies: int = 36,
        per_day: tuple[int, int] = (2, 12),
        scenario: bool = True,
        per_kind: int = 2,
        dvcqg_faults: Faults | None = None,
        motcua_faults: Faults | None = None,
        deployment: Deployment | str = "igate",
    ) -> Iterator[Simulation]:
        province = Province.generate(seed, as_of=as_of, agencies=agencies, per_day=per_day)
        if period is None:
            previous = province.as_of.date().replace(day=1) - dt.timedelta(days=1)
            period = Period.parse(f"{previous:%Y-%m}")
        injections = Scenario(period, seed=seed, per_kind=per_kind).apply(province) if scenario else []
        with DvcqgSimulator(province, dvcqg_faults) as dvcqg, \
                MotcuaSimulator(province, motcua_faults, deployment=deployment) as motcua:
            yield cls(province, period, dvcqg, motcua, injections)  # type: ignore[arg-type]

    def environment(self) -> dict[str, str]:
        """The (fake) credentials of the simulated one-stop login."""
        return {USERNAME_ENV: self.motcua.username, PASSWORD_ENV: self.motcua.password}

    def write_config(self, path: Path, store: Path | str, **options: Any) -> Path:
        """`config(...)` written as an nq57sync.toml a command can be pointed at."""
        path.write_text(toml_text(self.config(store, **options)), encoding="utf-8")
        return path

    def export_environment(self) -> None:
        os.environ.update(self.environment())

    def config(self, store: Path | str, *, motcua: dict[str, Any] | None = None,
               dvcqg: dict[str, Any] | None = None, **common_options: Any) -> dict[str, Any]:
        """A configuration (as `Config.from_dict` takes it) pointing at both simulators.

        `common_options` go to both sources, `motcua` and `dvcqg` to one each.
        """
        common = {"requests_per_second": 200, "daily_request_budget": 100_000,
                  "max_concurrency": 4, "retry_backoff": 0.05, "read_timeout": 30.0,
                  **common_options}
        return {
            "store": {"path": str(store)},
            "source": [
                {"name": "motcua", "plugin": "motcua", "api_url": self.motcua.api_url,
                 "sso_url": self.motcua.sso_url, "realm": self.motcua.realm,
                 "client_id": self.motcua.client_id, "username_env": USERNAME_ENV,
                 "password_env": PASSWORD_ENV, "root_agency_id": self.province.root_id,
                 "public_url": self.motcua.public_url, **common, **(motcua or {})},
                {"name": "dvcqg", "plugin": "dvcqg", "base_url": self.dvcqg.url,
                 "province_id": self.dvcqg.province_id, **common, **(dvcqg or {})},
            ],
            "reconcile": {"left": "motcua", "right": "dvcqg"},
        }


def toml_text(config: dict[str, Any]) -> str:
    """A configuration (as `Config.from_dict` takes it) as the TOML a person would write."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        raise TypeError(type(v))

    lines: list[str] = []
    for table, body in config.items():
        for item in body if isinstance(body, list) else [body]:
            lines.append(f"[[{table}]]" if isinstance(body, list) else f"[{table}]")
            lines += [f"{k} = {value(v)}" for k, v in item.items()]
            lines.append("")
    return "\n".join(lines)


__all__ = ["DEPLOYMENTS", "FAULT_KINDS", "KINDS", "Deployment", "DvcqgSimulator", "Faults",
           "Injection", "MotcuaSimulator", "Province", "Scenario", "Simulation"]
