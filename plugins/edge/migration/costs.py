"""CPU costs of moving pages, in reference-core seconds (one Ice Lake core at 3.5 GHz =
1.0; see docs/models.md section 1). Sources are given per constant; the derivations are
ESTIMATEs and say so.
"""

from __future__ import annotations

MB = 1e6

# Scanning the dirty log, mapping and copying one page into the socket. Clark et al. (NSDI
# 2005, section 6) report the first pre-copy pass "rate-limited to 100Mbit/sec (12% CPU)"
# on 2 GHz Xeons: 12% of a CPU at 3,052 pages/s (100 Mbit/s of 4 KiB pages) is 39 us of
# Xeon time per page. Times 0.065, the speed of the `server_2004` profile's slot (a 2 GHz
# Xeon thread; docs/models.md section 1), gives 2.5 us of reference-core time, so that
# profile reproduces the paper's 12%. ESTIMATE (one data point, one CPU).
SCAN_REF_S_PER_PAGE = 2.5e-6

# LZ4 r101 on one core of a Core i5-3340M @2.7 GHz (Ivy Bridge, 3.4 GHz turbo), Silesia
# corpus: ratio 2.084, compression 422 MB/s, decompression 1,820 MB/s (lz4 README,
# github.com/lz4/lz4). That core is ESTIMATEd at 0.75 of the reference core (similar
# clock, ~25% lower IPC than Ice Lake). Guest memory is assumed to compress like Silesia:
# ESTIMATE (zero pages compress far better, encrypted or already-compressed data not at all).
LZ4_RATIO = 2.084
LZ4_COMPRESS_REF_S_PER_MB = 0.75 / 422.0
LZ4_DECOMPRESS_REF_S_PER_MB = 0.75 / 1820.0

COMPRESSORS = {
    "none": (1.0, 0.0, 0.0),
    "lz4": (LZ4_RATIO, LZ4_COMPRESS_REF_S_PER_MB, LZ4_DECOMPRESS_REF_S_PER_MB),
}
