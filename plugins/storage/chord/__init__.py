"""Chord: a distributed lookup protocol (Stoica et al., SIGCOMM'01 / IEEE/ACM ToN 2003).

Layout: ``ring.py`` (identifier math, the stable ring's tables), ``routing.py`` (one
node's tables and decisions), ``lookup.py`` (the iterative lookup state machine) are
sans-I/O; ``overlay.py`` runs them as virtual nodes on the simulated cluster;
``system.py`` is the ``chord`` system, ``workload.py`` the ``chord_lookups`` workload.
Kept cheap to import: the hook functions import the modules only when called.
"""

from __future__ import annotations

from pathlib import Path

from harness.api import hookimpl


@hookimpl
def harness_systems() -> list[type]:
    from plugins.storage.chord.system import Chord

    return [Chord]


@hookimpl
def harness_workloads() -> list[type]:
    from plugins.storage.chord.workload import ChordLookups

    return [ChordLookups]


@hookimpl
def harness_config_dirs() -> list[Path]:
    return [Path(__file__).parent / "conf"]
