"""A test plugin whose pull is large and slow, so a test can kill it midway."""

import os
import time

import attrs
from conftest import make_dossier

import nq57sync


@attrs.frozen
class SlowSource(nq57sync.Source):
    plugin = "slow"
    display_name = "Nguồn chậm (thử nghiệm)"

    pages: int
    page_size: int
    pause: float
    status: int

    @classmethod
    def from_config(cls, config):
        config.reject_unknown({"pages", "page_size", "pause", "status"})
        return cls(config, config.option("pages", int, 200), config.option("page_size", int, 2000),
                   config.option("pause", float, 0.05), config.option("status", int, 2))

    def dossiers(self, period, client):
        for page in range(self.pages):
            start = page * self.page_size
            yield nq57sync.DossierPage(
                [make_dossier(i, status=self.status) for i in range(start, start + self.page_size)],
                total=self.pages * self.page_size)
            if os.environ.get("SLOW_SOURCE_READY_FILE") and page == 2:
                open(os.environ["SLOW_SOURCE_READY_FILE"], "w").close()
            time.sleep(self.pause)


@nq57sync.hookimpl
def nq57sync_register_sources():
    return [SlowSource]
