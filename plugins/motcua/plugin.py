"""Hook implementations of the `motcua` source plugin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import nq57sync
from nq57sync.config import SourceConfig

NAME = "motcua"


@nq57sync.hookimpl
def nq57sync_source_plugins() -> list[str]:
    return [NAME]


@nq57sync.hookimpl
def nq57sync_validate_source(source: SourceConfig) -> Mapping[str, Any] | None:
    if source.plugin != NAME:
        return None
    return {}
