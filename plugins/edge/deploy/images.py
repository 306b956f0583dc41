"""Container image presets: layers with a compressed size, an uncompressed size and a file count.

A layer's files get sizes drawn from a lognormal whose median is the typical small file of
a Linux tree and whose mean makes the sizes add up to the layer's uncompressed size. The
draw is seeded from the workload's seed, the image and the layer index, so every node of a
run extracts the same files. Sizes are ESTIMATES (docs/models.md, deploy section); the
`sources` of each preset say where they come from.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

MB = 1e6
MEDIAN_FILE_BYTES = 4096.0  # Agrawal et al., FAST'07: median file size ~4 KB on desktop file systems


@dataclass(frozen=True)
class Layer:
    compressed_mb: float
    uncompressed_mb: float
    files: int

    @property
    def compressed_bytes(self) -> float:
        return self.compressed_mb * MB

    @property
    def uncompressed_bytes(self) -> float:
        return self.uncompressed_mb * MB


@dataclass(frozen=True)
class Image:
    name: str
    layers: tuple[Layer, ...]
    source: str

    @property
    def compressed_bytes(self) -> float:
        return sum(layer.compressed_bytes for layer in self.layers)

    @property
    def uncompressed_bytes(self) -> float:
        return sum(layer.uncompressed_bytes for layer in self.layers)

    @property
    def files(self) -> int:
        return sum(layer.files for layer in self.layers)


# ubuntu:16.04 as pulled in 2017-2018: one ~45 MB base layer and four tiny config layers.
_XENIAL = (
    Layer(45.0, 118.0, 5000),
    Layer(0.00085, 0.003, 3),
    Layer(0.00053, 0.002, 2),
    Layer(0.00085, 0.003, 2),
    Layer(0.00016, 0.001, 1),
)

IMAGES: dict[str, Image] = {
    image.name: image
    for image in (
        Image(
            "ubuntu_seed",
            (*_XENIAL, Layer(51.0, 134.0, 1500)),
            "seed 003: 'standard ubuntu container (~45 MB) + one extra 51-MB layer'. Base: ubuntu:16.04 "
            "(Docker Hub, 2018: ~45 MB compressed in 5 layers, 118 MB as listed by `docker images`). "
            "Extra layer: CHOICE, 51 MB compressed with the base's 2.6:1 ratio (134 MB) and 1,500 files, "
            "as an apt-installed middleware layer would be. File counts: ESTIMATE",
        ),
        Image("ubuntu", _XENIAL, "ubuntu:16.04 alone (see ubuntu_seed)"),
        Image(
            "alpine",
            (Layer(2.2, 4.4, 500),),
            "alpine:3.8 (Docker Hub 2018: 2.2 MB compressed, 4.4 MB in `docker images`); ~500 files "
            "ESTIMATE (busybox applets are links)",
        ),
        Image(
            "nginx",
            (Layer(22.5, 55.3, 4000), Layer(22.0, 53.5, 800), Layer(0.0002, 0.001, 2)),
            "nginx:1.15 on debian:stretch-slim (Docker Hub 2018: 22.5 MB base + 22 MB nginx layer; "
            "109 MB in `docker images`); file counts ESTIMATE",
        ),
        Image(
            "redis",
            (Layer(22.5, 55.3, 4000), Layer(0.0015, 0.004, 3), Layer(0.4, 1.0, 30),
             Layer(8.5, 29.0, 150), Layer(0.0001, 0.001, 1), Layer(0.0004, 0.001, 1)),
            "redis:5.0 on debian:stretch-slim (Docker Hub 2018: ~31 MB compressed, 95 MB in "
            "`docker images`); per-layer split and file counts ESTIMATE",
        ),
        Image(
            "tiny",
            (Layer(2.0, 5.0, 200), Layer(1.0, 2.5, 50)),
            "CHOICE: a two-layer test image small enough for CI runs",
        ),
    )
}


def file_sizes(layer: Layer, seed: int, image: str, index: int) -> np.ndarray:
    """Sizes (bytes) of a layer's files in tar order; they sum to its uncompressed size."""
    if layer.files <= 0 or layer.uncompressed_bytes <= 0:
        return np.zeros(0)
    mean = layer.uncompressed_bytes / layer.files
    median = min(MEDIAN_FILE_BYTES, mean)
    sigma = math.sqrt(2.0 * math.log(mean / median)) if mean > median else 0.0
    rng = np.random.default_rng(_layer_seed(seed, image, index))
    sizes = rng.lognormal(math.log(median), sigma, layer.files) if sigma > 0 else np.full(layer.files, mean)
    return sizes * (layer.uncompressed_bytes / sizes.sum())


def _layer_seed(seed: int, image: str, index: int) -> int:
    digest = hashlib.sha256(f"{seed}:{image}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little")
