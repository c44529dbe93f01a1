"""The plugin manager: built-in and third-party plugins load the same way.

Besides the `nq57sync` entry-point group, modules named in the environment
variable NQ57SYNC_PLUGINS (comma-separated) are loaded, as pytest's
PYTEST_PLUGINS does: handy for trying a plugin before packaging it.
"""

from __future__ import annotations

import importlib
import os

import pluggy

from nq57sync import hookspecs, vi
from nq57sync.errors import ConfigError
from nq57sync.sources import Source

ENTRY_POINT_GROUP = "nq57sync"
hookimpl = pluggy.HookimplMarker("nq57sync")


def make_plugin_manager(*extra: object) -> pluggy.PluginManager:
    """A manager with every installed plugin, plus `extra` plugin objects."""
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for name in filter(None, (n.strip() for n in os.environ.get("NQ57SYNC_PLUGINS", "").split(","))):
        if pm.has_plugin(name):
            continue
        try:
            pm.register(importlib.import_module(name), name=name)
        except ImportError:
            raise ConfigError(
                f"Không nạp được plugin “{name}” nêu trong biến môi trường NQ57SYNC_PLUGINS."
            ) from None
    for plugin in extra:
        pm.register(plugin)
    return pm


def source_classes(pm: pluggy.PluginManager) -> dict[str, type[Source]]:
    """Every registered source class by its `plugin` name; two classes may not share one."""
    found: dict[str, type[Source]] = {}
    for classes in pm.hook.nq57sync_register_sources():
        for cls in classes:
            if not cls.plugin:
                raise ConfigError(f"Lớp nguồn {cls.__qualname__} chưa đặt tên plugin (thuộc tính "
                                  "plugin).")
            if found.get(cls.plugin, cls) is not cls:
                raise ConfigError(f"Hai plugin cùng đăng ký nguồn “{cls.plugin}” "
                                  f"({found[cls.plugin].__module__} và {cls.__module__}).")
            found[cls.plugin] = cls
            vi.name_source(cls.plugin, cls.display_name, cls.short_name)
    return found


def source_plugin_names(pm: pluggy.PluginManager) -> list[str]:
    return sorted(source_classes(pm))
