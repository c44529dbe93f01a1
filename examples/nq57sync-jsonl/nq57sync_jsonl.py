"""An nq57sync source plugin: dossiers from a JSON-lines file of national sync packages."""

import json

import nq57sync
from nq57sync.package import dossier_from_package


def _read(path):
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        return [dossier_from_package(json.loads(line)) for line in lines if line.strip()]
    except (OSError, ValueError) as exc:
        raise nq57sync.DataError(f"Không đọc được tệp {path.name}: {exc}.") from None


@nq57sync.hookimpl
def nq57sync_source_plugins():
    return ["jsonl"]


@nq57sync.hookimpl
def nq57sync_validate_source(source):
    if source.plugin == "jsonl":
        source.reject_unknown({"path"})
        return {"path": source.config_path.parent / source.option("path", str)}


@nq57sync.hookimpl
def nq57sync_fetch_dossiers(source, period, client):
    if source.plugin == "jsonl":
        found = [d for d in _read(source.settings["path"]) if period.contains(d.received_at.date())]
        return iter([nq57sync.DossierPage(found, total=len(found))])


@nq57sync.hookimpl
def nq57sync_import_file(source, path):
    if source.plugin == "jsonl":
        return nq57sync.ImportedFile(_read(path))
