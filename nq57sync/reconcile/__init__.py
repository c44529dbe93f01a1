"""Reconciliation: every disagreement between two sources, dossier by dossier and figure by figure.

In parts: `result` (what a run found, and its JSON), `reconciler` (which
snapshots, what their differences mean, the lifecycle), `figures` (figure
arithmetic). The SQL is the store's (`nq57sync_storage.matching`,
`nq57sync_storage.lifecycle`); the Vietnamese labels and advice are `vi`'s.
"""

from nq57sync.reconcile.reconciler import Reconciler
from nq57sync.reconcile.result import (
    KINDS,
    AggregateComparison,
    Discrepancy,
    Impact,
    ReconcileResult,
    discrepancy_id,
)
from nq57sync_storage.matching import DATE_FIELDS

__all__ = ["DATE_FIELDS", "KINDS", "AggregateComparison", "Discrepancy", "Impact",
           "ReconcileResult", "Reconciler", "discrepancy_id"]
