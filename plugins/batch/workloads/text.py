"""Text workloads: wordcount, inverted index (Zipf-distributed words) and grep.

Words follow a Zipf law over a synthetic vocabulary (p_k proportional to 1/k^s, the
classic fit for natural-language word frequencies, s close to 1 -- Zipf 1949; HiBench's
wordcount input is generated the same way by Hadoop's RandomTextWriter from a fixed word
list). Frequent words are short, as in real text.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Optional

import numpy as np

from harness.api import ConfigIssue
from plugins.batch.workloads.base import BatchWorkload

CODE_LETTERS = "etaoinshrdlcumwfgypb"  # bijective base-20 digits of a word's rank
PAD_LETTERS = "kvjxqz"  # padding only: a word's code ends at its first padding letter


class Vocabulary:
    """``size`` distinct synthetic words with Zipf(s) frequencies, derived from a seed.

    A word is its rank written in bijective base 20 (so frequent words are short and all
    words are distinct by construction) plus 1-3 padding letters from a disjoint alphabet,
    which brings the mean token length near English's (about 4.7 letters).
    """

    def __init__(self, size: int, s: float, seed: int) -> None:
        self.size = int(size)
        self.s = float(s)
        rng = np.random.default_rng([seed, 0x766F63])  # "voc": a stream of its own
        ranks = np.arange(1, self.size + 1, dtype=np.float64)
        weights = ranks ** -self.s
        self.pmf = weights / weights.sum()
        self.words = _words(self.size, rng)
        self.lengths = np.fromiter((len(w) for w in self.words), dtype=np.float64, count=self.size)

    @cached_property
    def mean_length(self) -> float:
        return float(self.pmf @ self.lengths)

    def distinct(self, draws: float) -> float:
        """Expected number of distinct words among ``draws`` independent draws."""
        return float(np.sum(-np.expm1(draws * np.log1p(-self.pmf))))

    def presence(self, draws: float) -> np.ndarray:
        """Probability that each word appears among ``draws`` draws."""
        return -np.expm1(draws * np.log1p(-self.pmf))


def _words(size: int, rng: np.random.Generator) -> list[str]:
    """Vectorized construction (a million words in well under a second)."""
    code_chars = np.frombuffer(CODE_LETTERS.encode(), dtype=np.uint8)
    pad_chars = np.frombuffer(PAD_LETTERS.encode(), dtype=np.uint8)
    width = 1
    while 20 ** width < size * 2:
        width += 1
    grid = np.zeros((size, width + 3), dtype=np.uint8)
    n = np.arange(1, size + 1, dtype=np.int64)
    length = np.zeros(size, dtype=np.int64)
    for pos in range(width + 1):
        live = n > 0
        if not live.any():
            break
        digit = (n - 1) % 20
        grid[live, pos] = code_chars[digit[live]]
        length[live] += 1
        n = np.where(live, (n - 1) // 20, 0)
    pad_len = rng.integers(1, 4, size)
    pads = pad_chars[rng.integers(0, len(pad_chars), (size, 3))]
    for j in range(3):
        rows = pad_len > j
        grid[rows, length[rows] + j] = pads[rows, j]
    return grid.view(f"S{grid.shape[1]}").ravel().astype(str).tolist()


class ZipfText(BatchWorkload):
    """Lines of Zipf-distributed words; the record is the line (its index is its key)."""

    def record_bytes(self) -> float:
        if self.materialized:
            return sum(len(r) for r in self.records()) / len(self.records())
        words = self.words_per_record
        return words * self.vocabulary.mean_length + (words - 1)

    @property
    def words_per_record(self) -> float:
        lo, hi = self._word_range()
        return (lo + hi) / 2

    def _word_range(self) -> tuple[int, int]:
        mean = float(self.cfg["words_per_record"])
        spread = max(0, int(mean // 2))
        return int(mean) - spread, int(mean) + spread

    @cached_property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary(self.cfg["vocabulary"], self.cfg["zipf_s"], self.seed)

    def _generate(self) -> list[str]:
        rng = np.random.default_rng([self.seed, 0x747874])
        lo, hi = self._word_range()
        n = int(self.cfg["records"])
        counts = rng.integers(lo, hi + 1, n)
        ids = rng.choice(self.vocabulary.size, size=int(counts.sum()), p=self.vocabulary.pmf)
        words = self.vocabulary.words
        lines, at = [], 0
        for c in counts:
            lines.append(" ".join(words[i] for i in ids[at:at + c]))
            at += c
        return lines

    @classmethod
    def check_more(cls, cfg: dict[str, Any]) -> list[ConfigIssue]:
        issues = []
        if cfg["vocabulary"] < 1:
            issues.append(ConfigIssue("workload.vocabulary", cfg["vocabulary"], "must be >= 1"))
        if cfg["zipf_s"] <= 0:
            issues.append(ConfigIssue("workload.zipf_s", cfg["zipf_s"], "must be > 0"))
        if cfg["words_per_record"] < 1:
            issues.append(ConfigIssue("workload.words_per_record", cfg["words_per_record"], "must be >= 1"))
        return issues


@dataclass
class WordCountParams:
    scale: str = "tiny"
    records: Optional[int] = None  # lines of text
    words_per_record: Optional[float] = None
    vocabulary: Optional[int] = None
    zipf_s: Optional[float] = None
    materialize: Optional[bool] = None  # None: materialized at tiny/small, modelled at large/paper


TEXT_PRESETS = {
    # tiny/small are materialized; large ~6 GB and paper ~1 TB are modelled.
    "tiny": {"records": 2_000, "words_per_record": 10, "vocabulary": 1_000, "zipf_s": 1.0},
    "small": {"records": 100_000, "words_per_record": 10, "vocabulary": 20_000, "zipf_s": 1.0},
    "large": {"records": 100_000_000, "words_per_record": 10, "vocabulary": 200_000, "zipf_s": 1.0},
    "paper": {"records": 16_000_000_000, "words_per_record": 10, "vocabulary": 1_000_000, "zipf_s": 1.0},
}


class WordCount(ZipfText):
    name = "wordcount"
    description = "Count word occurrences in Zipf-distributed text (HiBench wordcount)"
    Params = WordCountParams
    PRESETS = TEXT_PRESETS

    def _reference_of(self, records: list[str]) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for line in records:
            counts.update(line.split())
        return dict(counts)


@dataclass
class InvertedIndexParams:
    scale: str = "tiny"
    records: Optional[int] = None  # documents
    words_per_record: Optional[float] = None
    vocabulary: Optional[int] = None
    zipf_s: Optional[float] = None
    materialize: Optional[bool] = None


class InvertedIndex(ZipfText):
    name = "inverted_index"
    description = "Build word -> sorted document ids from Zipf-distributed documents"
    Params = InvertedIndexParams
    PRESETS = {
        "tiny": {"records": 500, "words_per_record": 20, "vocabulary": 1_000, "zipf_s": 1.0},
        "small": {"records": 20_000, "words_per_record": 40, "vocabulary": 20_000, "zipf_s": 1.0},
        "large": {"records": 20_000_000, "words_per_record": 100, "vocabulary": 200_000, "zipf_s": 1.0},
        "paper": {"records": 2_000_000_000, "words_per_record": 100, "vocabulary": 1_000_000, "zipf_s": 1.0},
    }

    def _reference_of(self, records: list[str]) -> dict[str, list[int]]:
        index: dict[str, set[int]] = {}
        for doc, text in enumerate(records):
            for word in text.split():
                index.setdefault(word, set()).add(doc)
        return {w: sorted(d) for w, d in index.items()}

    def distinct_per_record(self) -> float:
        return self.vocabulary.distinct(self.words_per_record)


@dataclass
class GrepParams:
    scale: str = "tiny"
    records: Optional[int] = None
    record_bytes: float = 100.0  # the paper's 100-byte records
    pattern: str = "xyz"  # never produced by the filler alphabet, so matches are exactly the planted ones
    match_rate: Optional[float] = None  # share of records that contain the pattern
    materialize: Optional[bool] = None


FILLER = "abcdefghijklmnopqrstuvw "  # no x, y or z: the default pattern only occurs where planted


class Grep(BatchWorkload):
    name = "grep"
    description = "Find the records containing a rare pattern (OSDI'04 grep: 1 TB, 92,337 matches)"
    Params = GrepParams
    PRESETS = {
        "tiny": {"records": 2_000, "match_rate": 0.01},
        "small": {"records": 100_000, "match_rate": 0.001},
        "large": {"records": 100_000_000, "match_rate": 9.2337e-6},
        # OSDI'04 section 5.2: 10^10 100-byte records, the pattern occurs in 92,337 records.
        "paper": {"records": 10_000_000_000, "match_rate": 9.2337e-6},
    }

    def record_bytes(self) -> float:
        return float(self.cfg["record_bytes"])

    def input_files(self) -> int:
        return 1000 if self.cfg["records"] >= 10**9 else 1  # the paper's 1 TB was 1000 files

    @property
    def match_rate(self) -> float:
        return float(self.cfg["match_rate"])

    def _generate(self) -> list[str]:
        rng = np.random.default_rng([self.seed, 0x677270])
        n, size = int(self.cfg["records"]), int(self.cfg["record_bytes"])
        pattern = self.cfg["pattern"]
        letters = rng.integers(0, len(FILLER), (n, size))
        hits = rng.random(n) < self.match_rate
        where = rng.integers(0, max(1, size - len(pattern) + 1), n)
        out = []
        for i in range(n):
            line = "".join(FILLER[c] for c in letters[i])
            if hits[i]:
                at = int(where[i])
                line = line[:at] + pattern + line[at + len(pattern):]
            out.append(line)
        return out

    def _reference_of(self, records: list[str]) -> list[tuple[int, str]]:
        pattern = self.cfg["pattern"]
        return [(i, line) for i, line in enumerate(records) if pattern in line]

    @classmethod
    def check_more(cls, cfg: dict[str, Any]) -> list[ConfigIssue]:
        issues = []
        if not 0 <= cfg["match_rate"] <= 1:
            issues.append(ConfigIssue("workload.match_rate", cfg["match_rate"], "must be in [0, 1]"))
        if not cfg["pattern"] or any(c in FILLER for c in cfg["pattern"]):
            issues.append(ConfigIssue("workload.pattern", cfg["pattern"],
                                      "a non-empty string of characters outside the filler alphabet a-w and space"))
        if cfg["record_bytes"] < len(cfg["pattern"]):
            issues.append(ConfigIssue("workload.record_bytes", cfg["record_bytes"], "must hold the pattern"))
        return issues
