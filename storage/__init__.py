"""nq57sync's snapshot store (import name `nq57sync_storage`).

See README.md in this folder for the tables, for people who open the file
with `sqlite3` or `datasette`.
"""

from nq57sync_storage.store import SnapshotWriter, Store

__all__ = ["SnapshotWriter", "Store"]
