"""A test plugin whose pull is large and slow, so a test can kill it midway."""

import os
import time

from conftest import make_dossier

import nq57sync


@nq57sync.hookimpl
def nq57sync_source_plugins():
    return ["slow"]


@nq57sync.hookimpl
def nq57sync_validate_source(source):
    if source.plugin == "slow":
        source.reject_unknown({"pages", "page_size", "pause", "status"})
        return {key: source.option(key, kind, default) for key, kind, default in [
            ("pages", int, 200), ("page_size", int, 2000), ("pause", float, 0.05),
            ("status", int, 2)]}


@nq57sync.hookimpl
def nq57sync_fetch_dossiers(source, period, client):
    if source.plugin != "slow":
        return None
    s = source.settings

    def pages():
        for page in range(s["pages"]):
            start = page * s["page_size"]
            yield nq57sync.DossierPage(
                [make_dossier(i, status=s["status"]) for i in range(start, start + s["page_size"])],
                total=s["pages"] * s["page_size"])
            if os.environ.get("SLOW_SOURCE_READY_FILE") and page == 2:
                open(os.environ["SLOW_SOURCE_READY_FILE"], "w").close()
            time.sleep(s["pause"])

    return pages()
