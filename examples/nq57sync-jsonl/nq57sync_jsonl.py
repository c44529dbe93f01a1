"""An nq57sync source plugin: dossiers from a JSON-lines file of national sync packages."""

import json
from pathlib import Path

import attrs

import nq57sync
from nq57sync.package import dossier_from_package


def _read(path):
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        return [dossier_from_package(json.loads(line)) for line in lines if line.strip()]
    except (OSError, ValueError) as exc:
        raise nq57sync.DataError(f"Không đọc được tệp {path.name}: {exc}.") from None


@attrs.frozen
class JsonlSource(nq57sync.Source):
    plugin = "jsonl"
    display_name = "Tệp gói đồng bộ (JSON lines)"
    short_name = "Tệp JSONL"

    path: Path

    @classmethod
    def from_config(cls, config):
        config.reject_unknown({"path"})
        return cls(config, config.config_path.parent / config.option("path", str))

    def dossiers(self, period, client):
        found = [d for d in _read(self.path) if period.contains(d.received_at.date())]
        return iter([nq57sync.DossierPage(found, total=len(found))])

    def import_file(self, path):
        return nq57sync.ImportedFile(_read(path))


@nq57sync.hookimpl
def nq57sync_register_sources():
    return [JsonlSource]
