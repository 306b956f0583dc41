"""Hydra discovers this module (namespace ``hydra_plugins``) and asks it for config dirs.

Every harness plugin's ``harness_config_dirs`` are appended to the search path, so a
pip-installed package's YAML shows up in the config groups with no edit to the harness.
"""

from __future__ import annotations

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class HarnessSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from harness.config.schema import register_schemas
        from harness.plugin_manager import registry

        register_schemas()
        for directory, plugin in registry().config_dirs:
            search_path.append(provider=f"harness-plugin:{plugin.name}", path=f"file://{directory}")
