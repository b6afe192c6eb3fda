"""What every benchmark in the project measures: batch sizes, client counts, texts, old rows."""

from __future__ import annotations

import random
from dataclasses import dataclass

BATCH_SIZES = (1, 10, 50, 100, 200, 500)
CLIENT_COUNTS = (1, 8, 32)
WORDS = ("graph node edge embedding vector query server cluster slurm job model token batch "
         "latency plasma equilibrium magnetic field coil current profile diagnostic signal "
         "neutron flux divertor heating pulse shot data index search retrieve relevant passage "
         "answer document machine physics tokamak reactor measurement analysis time series").split()


def make_texts(n: int, seed: int = 7) -> list[str]:
    """`n` texts of 8 to 40 words, the same for the same seed."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40))) for _ in range(n)]


@dataclass(frozen=True)
class ReferenceRow:
    label: str
    model: str
    device: str
    texts_per_s: dict[int, float]


# The old setup's own measurements (design notes), texts/s per batch size.
REFERENCE = (
    ReferenceRow("T4 (old server)", "Qwen3-Embedding-0.6B", "Tesla T4",
                 {1: 16, 10: 139, 50: 370, 100: 415, 200: 575, 500: 562}),
    ReferenceRow("P100 (old server)", "Qwen3-Embedding-0.6B", "Tesla P100",
                 {1: 19.5, 10: 190, 50: 417, 100: 454, 200: 468, 500: 422}),
)
