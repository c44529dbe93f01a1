"""Plugin hook specifications: every way a plugin can extend nq57sync.

Plugins are modules (or packages) registered in the ``nq57sync`` entry-point
group, exactly as the built-in ``dvcqg`` and ``motcua`` plugins are::

    [project.entry-points.nq57sync]
    myportal = "nq57sync_myportal"

They implement any of these hooks with ``@nq57sync.hookimpl``.

Sources are objects: a plugin registers source classes by name
(``nq57sync_register_sources``), as datasette registers output renderers, and
the ``plugin = "…"`` key of a ``[[source]]`` table chooses one. Source objects
never open their own HTTP connections; the core hands them a ready
:class:`nq57sync.http.SourceClient` that enforces timeouts, politeness, the
request budget and retries, and keeps secrets out of logs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from nq57sync.config import Config
    from nq57sync.hooktypes import AlertChannel, ConsistencyRule, ReportSection
    from nq57sync.sources import Source

hookspec = pluggy.HookspecMarker("nq57sync")


@hookspec
def nq57sync_register_sources() -> list[type[Source]]:
    """The source classes this module provides, each named by its ``plugin`` class attribute.

    A ``[[source]]`` table's ``plugin = "…"`` picks the class; the class's
    ``from_config`` validates the table's options (raising through
    ``config.config_error`` so the message names the key, the source and the
    configuration file; keys shared by every source — ``name``, ``plugin``,
    ``requests_per_second``, ``daily_request_budget``, ``ca_bundle``,
    ``agencies``, … — are the core's) and returns the instance that fetches and
    imports for that source. See :class:`nq57sync.sources.Source`.
    """


@hookspec
def nq57sync_consistency_rules(config: Config) -> list[ConsistencyRule]:
    """Extra identities every published aggregate row must satisfy."""


@hookspec
def nq57sync_report_sections(result: Any, config: Config) -> list[ReportSection]:
    """Extra sections for every report format, given a reconciliation result."""


@hookspec
def nq57sync_alert_channels(config: Config) -> list[AlertChannel]:
    """Extra ways to deliver alerts (the log, webhook and e-mail are built in)."""
