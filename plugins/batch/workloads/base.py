"""The ``batch`` workload contract, shared by every batch system (MapReduce, Spark...).

A batch workload describes *data*, never a system's program: how many records, how big,
how they are distributed, the records themselves (materialized plane) and the answer a
correct system must produce (the reference). Each system plugin supplies its own user
program for a workload (MapReduce's map/combine/reduce functions live in
``plugins.batch.mapreduce.programs``).

Two planes:

* materialized (scale tiny/small by default): real records generated from the seed;
  the system runs its user program on them and its output is checked against
  ``reference()``, computed here in plain Python without any system code;
* modelled (scale large/paper by default): only counts, sizes and the distributions
  needed to derive them (``stats``), so a 10^10-record job simulates on a laptop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Iterator

from harness.api import ConfigIssue, Workload

SCALES = ("tiny", "small", "large", "paper")
MATERIALIZED_SCALES = ("tiny", "small")
MAX_MATERIALIZED_RECORDS = 2_000_000  # beyond this, real records cost too much RAM/CPU


@dataclass(frozen=True)
class InputData:
    """System-neutral description of a batch input."""

    records: int
    nbytes: float
    materialized: bool
    files: int = 1  # input files (a system may open them at start-up)

    @property
    def record_bytes(self) -> float:
        return self.nbytes / self.records if self.records else 0.0


class BatchWorkload(Workload):
    """Base class: scale presets, the two planes, deterministic generation, reference.

    Subclasses define ``PRESETS`` (scale -> defaults for the Params fields left at None),
    ``_generate()`` (materialized records, a list) and ``_reference(records)``.
    """

    kind: ClassVar[str] = "batch"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}
    iterative: ClassVar[bool] = False

    def __init__(self, params: Any, seed: int) -> None:
        super().__init__(params, seed)
        self.cfg = self.resolve(params)
        self._records: list[Any] | None = None
        self._reference: Any = None

    # -- configuration --------------------------------------------------------------
    @classmethod
    def resolve(cls, params: Any) -> dict[str, Any]:
        """Params with every None filled from the scale preset (explicit values win)."""
        preset = cls.PRESETS.get(params.scale, {})
        cfg = {k: v for k, v in vars(params).items()}
        for key, value in preset.items():
            if cfg.get(key) is None:
                cfg[key] = value
        if cfg.get("materialize") is None:
            cfg["materialize"] = params.scale in MATERIALIZED_SCALES
        return cfg

    @classmethod
    def check(cls, params: Any) -> list[ConfigIssue]:
        if params.scale not in SCALES:
            return [ConfigIssue("workload.scale", params.scale, f"allowed: {', '.join(SCALES)}")]
        cfg = cls.resolve(params)
        issues = []
        for key in ("records",):
            if cfg.get(key) is not None and cfg[key] < 1:
                issues.append(ConfigIssue(f"workload.{key}", cfg[key], "must be >= 1"))
        if cfg["materialize"] and cfg["records"] > MAX_MATERIALIZED_RECORDS:
            issues.append(ConfigIssue(
                "workload.materialize", True,
                f"materializing {cfg['records']:,} records is too big; allowed up to "
                f"{MAX_MATERIALIZED_RECORDS:,} (use materialize=false for the modelled plane)"))
        return issues + cls.check_more(cfg)

    @classmethod
    def check_more(cls, cfg: dict[str, Any]) -> list[ConfigIssue]:
        return []

    # -- the data -------------------------------------------------------------------
    @property
    def materialized(self) -> bool:
        return bool(self.cfg["materialize"])

    def input(self) -> InputData:
        records = int(self.cfg["records"])
        return InputData(records, records * self.record_bytes(), self.materialized, self.input_files())

    def record_bytes(self) -> float:
        """Mean bytes per input record (exact for fixed-size records)."""
        raise NotImplementedError

    def input_files(self) -> int:
        return 1

    def records(self) -> list[Any]:
        """Every input record, generated once from the seed (materialized plane only)."""
        if not self.materialized:
            raise RuntimeError(f"workload {self.name!r} is modelled (materialize=false): no records")
        if self._records is None:
            self._records = self._generate()
        return self._records

    def reference(self) -> Any:
        """The answer a correct system produces, computed in plain Python."""
        if self._reference is None:
            self._reference = self._reference_of(self.records())
        return self._reference

    def _generate(self) -> list[Any]:
        raise NotImplementedError

    def _reference_of(self, records: list[Any]) -> Any:
        raise NotImplementedError

    # -- iterative workloads ----------------------------------------------------------
    @property
    def iterations(self) -> int:
        return int(self.cfg.get("iterations") or 1)

    def initial_state(self) -> Any:
        return None


class OutputMismatch(AssertionError):
    """A system's output differs from the workload's reference answer."""


# -- checking a system's output against the reference (shared by every batch system) ----------
def mismatch(workload: str, what: str) -> OutputMismatch:
    return OutputMismatch(f"{workload}: output differs from the reference: {what}")


def check_close(got: Any, want: Any, workload: str, rel: float = 1e-6) -> None:
    """Numbers (nested tuples/lists) equal to ``rel`` relative tolerance."""
    flat_got, flat_want = list(_flatten(got)), list(_flatten(want))
    if len(flat_got) != len(flat_want):
        raise mismatch(workload, f"{len(flat_got)} values, expected {len(flat_want)}")
    for i, (a, b) in enumerate(zip(flat_got, flat_want)):
        if not math.isclose(a, b, rel_tol=rel, abs_tol=1e-9):
            raise mismatch(workload, f"value {i} is {a!r}, expected {b!r}")


def _flatten(value: Any) -> Iterator[float]:
    if isinstance(value, (tuple, list)):
        for v in value:
            yield from _flatten(v)
    else:
        yield float(value)


def check_pairs(workload: str, outputs: Iterable[Iterable[tuple[Any, Any]]], reference: dict[Any, Any]) -> None:
    """Output partitions of (key, value) pairs hold each key once, with the reference's value."""
    got: dict[Any, Any] = {}
    for part in outputs:
        for key, value in part:
            if key in got:
                raise mismatch(workload, f"key {key!r} was output twice")
            got[key] = value
    if got == reference:
        return
    missing = sorted(set(reference) - set(got))[:3]
    extra = sorted(set(got) - set(reference))[:3]
    wrong = sorted(k for k in set(got) & set(reference) if got[k] != reference[k])[:3]
    details = []
    if missing:
        details.append(f"missing keys {missing}")
    if extra:
        details.append(f"unexpected keys {extra}")
    if wrong:
        details.append("; ".join(f"{k!r}: got {got[k]!r}, expected {reference[k]!r}" for k in wrong))
    raise mismatch(workload, ", ".join(details))


def record_size(value: Any) -> int:
    """Bytes of a record or field as a batch system would serialize it.

    str: UTF-8 length; bytes: length; int and float: 8; tuples/lists: the sum of their
    items; None: 0. Deliberately simple and the same for every system.
    """
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, (int, float)):
        return 8
    if isinstance(value, (tuple, list)):
        return sum(record_size(v) for v in value)
    if value is None:
        return 0
    raise TypeError(f"cannot size a {type(value).__name__}")
