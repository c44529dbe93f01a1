"""The project's own errors.

Every failure a person at the service centre can meet is one of these, and its
message is one Vietnamese sentence saying what went wrong and where. Messages
never carry secrets: callers pass names of things, never their values.
"""

from __future__ import annotations


class Nq57Error(Exception):
    """Base of every error nq57sync raises on purpose (CLI exit status 2)."""

    exit_code = 2


class UsageError(Nq57Error):
    """The command line or a library call was given something it cannot use."""


class PeriodError(UsageError):
    """A period string is not one of the forms in interface.md."""


class ConfigError(Nq57Error):
    """The configuration file is missing, malformed, or a key is wrong."""


class StoreError(Nq57Error):
    """The SQLite store cannot be opened, written or trusted."""


class SourceError(Nq57Error):
    """A source answered something unusable, or could not be reached."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


class DataError(SourceError):
    """An answer or a file could not be parsed into the canonical model."""


class AuthError(SourceError):
    """The source refused our credentials."""


class BudgetExhausted(SourceError):
    """The daily request budget of a source is spent."""


class Cancelled(Nq57Error):
    """A pull was stopped on request (SIGTERM, Ctrl+C); nothing of it was kept."""
