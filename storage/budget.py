"""The request budget's counter: one row per source and day in `request_budget`."""

from __future__ import annotations

import sqlite3
from pathlib import Path


class BudgetCounter:
    """Counts a source's requests of a day in the store, on a connection of its own.

    `spend` is one statement that adds one only while the count is under the
    limit, so concurrent requests (threads, a daemon and a command) never spend
    past it.
    """

    def __init__(self, store_path: Path, source: str) -> None:
        self.source = source
        self._conn = sqlite3.connect(store_path, isolation_level=None, timeout=30,
                                     check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout = 30000")

    def used(self, day: str) -> int:
        row = self._conn.execute("SELECT used FROM request_budget WHERE source = ? AND day = ?",
                                 (self.source, day)).fetchone()
        return int(row[0]) if row else 0

    def spend(self, day: str, limit: int) -> bool:
        """Count one request; False (nothing counted) when the day's limit is reached."""
        self._conn.execute(
            "INSERT OR IGNORE INTO request_budget (source, day, used) VALUES (?, ?, 0)",
            (self.source, day))
        return bool(self._conn.execute(
            "UPDATE request_budget SET used = used + 1 WHERE source = ? AND day = ? AND used < ?",
            (self.source, day, limit)).rowcount)

    def close(self) -> None:
        self._conn.close()
