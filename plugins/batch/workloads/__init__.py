"""HiBench-style batch workloads, shared by every batch system (MapReduce now, Spark later).

Each class describes data only (records, sizes, distributions, the reference answer);
systems bring their own user programs. Presets: ``scale=tiny|small|large|paper``.
"""

from __future__ import annotations

from plugins.batch.workloads.base import BatchWorkload, InputData, OutputMismatch, record_size
from plugins.batch.workloads.graph import PageRank
from plugins.batch.workloads.ml import KMeans, LogReg
from plugins.batch.workloads.sort import Sort
from plugins.batch.workloads.text import Grep, InvertedIndex, WordCount

WORKLOADS: tuple[type[BatchWorkload], ...] = (WordCount, Grep, Sort, InvertedIndex, LogReg, KMeans, PageRank)

__all__ = ["WORKLOADS", "BatchWorkload", "InputData", "OutputMismatch", "record_size",
           "WordCount", "Grep", "Sort", "InvertedIndex", "LogReg", "KMeans", "PageRank"]
