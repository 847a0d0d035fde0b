"""Whether a SQLite store's commits still reach its file.

SQLite keeps writing to the file it opened. If that file is removed (its
directory deleted) or replaced (a restore copied over it), every commit
succeeds into an orphaned inode and the mail is gone: the sink must answer
451 instead. The guard compares the path's inode with the one opened, around
each write; a read-only or full file system fails the write itself
(OperationalError), which the sink answers with 451 too.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    """The store cannot keep mail durably now: refuse it for a retry (451)."""


class FileGuard:
    def __init__(self, path: Path) -> None:
        self.path = path
        st = os.stat(path)
        self._identity = (st.st_dev, st.st_ino)
        self.problem: str | None = None  # once set, for good: only a restart opens the new file

    def check(self) -> None:
        """Raise StoreUnavailable unless the path is still the file opened."""
        if self.problem is None:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                self._lost("was removed")
            except OSError as exc:  # e.g. EIO: may pass, so not kept
                raise StoreUnavailable(f"the database file {self.path} cannot be checked: {exc}") from exc
            else:
                if (st.st_dev, st.st_ino) != self._identity:
                    self._lost("was replaced by another file")
        if self.problem is not None:
            raise StoreUnavailable(self.problem)

    def _lost(self, what: str) -> None:
        self.problem = (
            f"the database file {self.path} {what} while the store had it open: "
            "mail is refused (451) until kvm-patchbot is restarted on a database that is there"
        )
        log.critical("%s", self.problem)


def sqlite_file(url_database: str | None) -> Path | None:
    """The absolute path of a SQLite URL's database, or None (in memory)."""
    if not url_database or url_database == ":memory:" or url_database.startswith("file:"):
        return None
    return Path(os.path.abspath(url_database))
