"""Built-in plugins, one subpackage per system family.

Each is registered through the ``harness`` entry-point group in pyproject.toml, the
same way a third-party package registers, and uses only ``harness.api``.
"""
