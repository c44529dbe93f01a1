"""Dashboard page loads over a store of 1,000,000 dossiers a side and 10,000 open discrepancies.

    .venv/bin/python benchmarks/dashboard.py [N]        (default 1,000,000)

Builds the store (two sides, 1% of the left dossiers disagreeing on the right:
10,000 discrepancies at N = 1,000,000), reconciles once, then serves the
dashboard on loopback and times each page five times over real HTTP,
printing the first (cold: charts drawn) and the median of the rest.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import attrs
import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).parent))

from store import dossiers

from nq57sync import Config, Period
from nq57sync.reconcile import Reconciler
from nq57sync.web.app import create_app
from nq57sync_storage import Store


def build(n: int, path: Path) -> None:
    period = Period.parse("2025-11")
    left = dossiers(n)
    right = [attrs.evolve(d, status=4 if d.status != 4 else 2) if i % 100 == 5 else d
             for i, d in enumerate(left)]
    with Store(path) as store:
        for source, side in (("motcua", left), ("dvcqg", right)):
            with store.begin_snapshot(source=source, plugin=source, period=period) as writer:
                for k in range(0, len(side), 20_000):
                    writer.add_dossiers(side[k:k + 20_000])
        result = Reconciler(store, Config.from_dict({})).run(period)
        print(f"store: {n:,} dossiers a side, {len(result.discrepancies):,} open discrepancies")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dash.db"
        build(n, path)
        config = Config.from_dict({"store": {"path": str(path)}})
        server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=0,
                                               log_level="error"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=60) as client:
            code = client.get("/sai-lech").text.split('href="/ho-so/')[1].split("?")[0]
            pages = ["/", "/sai-lech", "/sai-lech?loai=status_mismatch&don_vi=H31.07",
                     "/sai-lech?tinh_trang=all&trang=50", f"/ho-so/{code}", "/xu-huong", "/nguon",
                     "/api/phien-ban"]
            print(f"{'page':52s} {'first':>8s} {'median':>8s}")
            for page in pages:
                times = []
                for _ in range(5):
                    start = time.perf_counter()
                    response = client.get(page)
                    times.append(time.perf_counter() - start)
                    assert response.status_code == 200, (page, response.status_code)
                print(f"{page:52s} {times[0] * 1000:7.0f}ms {statistics.median(times[1:]) * 1000:7.0f}ms")
        server.should_exit = True
        thread.join(timeout=10)


if __name__ == "__main__":
    main()
