"""The built-in `motcua` source plugin (import name `nq57sync_motcua`)."""

from nq57sync_motcua.plugin import *  # noqa: F403
