"""nq57sync: keep the one-stop system and the national portal in agreement."""

from nq57sync.codes import Channel, Status
from nq57sync.config import Config, SourceConfig
from nq57sync.errors import (
    AuthError,
    BudgetExhausted,
    ConfigError,
    DataError,
    Nq57Error,
    PeriodError,
    SourceError,
    StoreError,
    UsageError,
)
from nq57sync.hooktypes import (
    Alert,
    AlertChannel,
    ConsistencyRule,
    DossierPage,
    ImportedFile,
    ReportSection,
)
from nq57sync.model import Agency, AggregateRow, Dossier, IndexScore, Procedure, Snapshot
from nq57sync.period import Period
from nq57sync.plugins import hookimpl
from nq57sync.sources import Source

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # The workspace imports the store, which imports this package's model:
    # load it on first use so either side can be imported first.
    if name == "Workspace":
        from nq57sync.workspace import Workspace

        return Workspace
    raise AttributeError(name)


__all__ = [
    "Agency",
    "AggregateRow",
    "Alert",
    "AlertChannel",
    "AuthError",
    "BudgetExhausted",
    "Channel",
    "Config",
    "ConfigError",
    "ConsistencyRule",
    "DataError",
    "Dossier",
    "DossierPage",
    "ImportedFile",
    "IndexScore",
    "Nq57Error",
    "Period",
    "PeriodError",
    "Procedure",
    "ReportSection",
    "Snapshot",
    "Source",
    "SourceConfig",
    "SourceError",
    "Status",
    "StoreError",
    "UsageError",
    "Workspace",
    "hookimpl",
]
