"""The built-in `dvcqg` source plugin (import name `nq57sync_dvcqg`)."""

from nq57sync_dvcqg.plugin import *  # noqa: F403
