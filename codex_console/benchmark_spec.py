"""What every benchmark of the embed server measures: batch sizes, client counts, texts, old rows.

Shared by the console's bench panel and `benchmarks/` (the server's full benchmark), so both
measure the same thing. Imports neither torch nor the server.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

BATCH_SIZES = (1, 10, 50, 100, 200, 500)
CLIENT_COUNTS = (1, 8, 32)
WORDS = ("graph node edge embedding vector query server cluster slurm job model token batch "
         "latency plasma equilibrium magnetic field coil current profile diagnostic signal "
         "neutron flux divertor heating pulse shot data index search retrieve relevant passage "
         "answer document machine physics tokamak reactor measurement analysis time series").split()
MIN_WORDS, MAX_WORDS = 8, 40


def make_texts(n: int, seed: int = 7) -> list[str]:
    """`n` texts of 8-40 words, the same for the same seed."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(MIN_WORDS, MAX_WORDS))) for _ in range(n)]


@dataclass(frozen=True)
class ReferenceRow:
    """A measured row of the old setup: texts/s at each of BATCH_SIZES."""

    label: str
    model: str
    gpu: str
    texts_per_second: tuple[float, ...]

    def at(self, batch: int) -> float:
        return self.texts_per_second[BATCH_SIZES.index(batch)]


REFERENCE_ROWS = (
    ReferenceRow(label="T4 (old server)", model="Qwen3-Embedding-0.6B", gpu="Tesla T4",
                 texts_per_second=(16, 139, 370, 415, 575, 562)),
    ReferenceRow(label="P100 (old server)", model="Qwen3-Embedding-0.6B", gpu="Tesla P100-PCIE-16GB",
                 texts_per_second=(19.5, 190, 417, 454, 468, 422)),
)
