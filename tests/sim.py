"""Helpers that run the real plugins against the loopback simulators."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nq57sync
from nq57sync.model import VN_TZ
from nq57sync.simulators import Simulation

#: A fixed clock keeps every run of a test on the same data.
AS_OF = dt.datetime(2025, 12, 3, 9, 0, tzinfo=VN_TZ)
SMALL = {"agencies": 8, "per_day": (2, 6), "as_of": AS_OF}


@contextlib.contextmanager
def simulation(monkeypatch: Any = None, **kwargs: Any) -> Iterator[Simulation]:
    with Simulation.start(**{**SMALL, **kwargs}) as sim:
        if monkeypatch is not None:
            for key, value in sim.environment().items():
                monkeypatch.setenv(key, value)
        yield sim


def workspace(sim: Simulation, store: Path, *, reconcile: dict | None = None,
              **options: Any) -> nq57sync.Workspace:
    config = sim.config(store, **options)
    if reconcile:
        config["reconcile"].update(reconcile)
    return nq57sync.Workspace(nq57sync.Config.from_dict(config, store.parent / "nq57sync.toml"))


@contextlib.contextmanager
def reconciled_simulation(folder: Path, **kwargs: Any) -> Iterator[tuple[nq57sync.Workspace, Any]]:
    """A simulation on today's clock, synced and reconciled into `folder/s.db`.

    For module-scoped fixtures, which cannot take pytest's `monkeypatch`.
    """
    import pytest

    mp = pytest.MonkeyPatch()
    try:
        with simulation(mp, as_of=None, **kwargs) as sim:
            ws = workspace(sim, folder / "s.db")
            try:
                ws.sync(sim.period)
                yield ws, ws.reconcile(sim.period)
            finally:
                ws.close()
    finally:
        mp.undo()
