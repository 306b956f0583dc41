"""dsbench harness: declarative benchmarks of distributed-system designs.

Plugin authors need only ``harness.api`` (classes and the ``hookimpl`` marker) and
``harness.testing`` (the conformance suite).
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

# The primary config directory. The harness runs from a source checkout (installed
# editable, as the README says), so conf/ sits beside the package.
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
