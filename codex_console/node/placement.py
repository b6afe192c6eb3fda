"""Where each instance runs on a node: its GPUs (from the ones Slurm gave the job on this node) and
its port. Pure functions: the supervisor passes in what it found on the node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..catalogue import Kind, ServiceSpec
from ..protocol import PORT_BLOCK, PORT_BLOCKS


@dataclass(frozen=True)
class Slot:
    spec: ServiceSpec
    index: int  # numbered across the job's nodes: embed0 embed1 on the first, embed2 embed3 on the next
    port: int
    gpus: tuple[str, ...]


def instances_here(spec: ServiceSpec, gpus_left: int) -> int:
    """A fixed count, or (instances = 0) one per GPU the other services left, at least one."""
    if spec.instances:
        return spec.instances
    return max(1, gpus_left // spec.gpus) if spec.gpus else 1


def place(specs: tuple[ServiceSpec, ...], gpu_ids: list[str], node_index: int = 0, block: int = 0,
          first_node: bool = True) -> list[Slot]:
    """Every instance this node runs, in catalogue order: services with a fixed count take their
    GPUs first, then those with one per GPU take what is left. Neo4j runs on the first node only.
    With no GPU from Slurm (a CPU job) nothing gets CUDA_VISIBLE_DEVICES."""
    here = [s for s in specs if first_node or s.kind is not Kind.NEO4J]
    fixed_gpus = sum(s.gpus * s.instances for s in here if s.instances)
    counts = {s.name: instances_here(s, max(0, len(gpu_ids) - fixed_gpus)) for s in here}
    order = [s for s in here if s.instances] + [s for s in here if not s.instances]
    free = list(gpu_ids)
    taken: dict[tuple[str, int], tuple[str, ...]] = {}
    for spec in order:
        for i in range(counts[spec.name]):
            take = free[:spec.gpus] if gpu_ids else []
            free = free[len(take):]
            taken[spec.name, i] = tuple(take)
    slots = []
    for spec in here:
        shift = 0 if spec.kind is Kind.NEO4J else block * PORT_BLOCK  # Neo4j moves, on its own port
        for i in range(counts[spec.name]):
            slots.append(Slot(spec, node_index * counts[spec.name] + i, spec.port + shift + i, taken[spec.name, i]))
    return slots


def free_block(specs: tuple[ServiceSpec, ...], gpu_count: int, taken: Callable[[int], bool]) -> int:
    """The first block of ports where none of this node's model servers' ports is taken (by the
    predecessor of a hand-over on this node, or by anything that answers); 0 if none is free."""
    for block in range(PORT_BLOCKS):
        ports = [s.port for s in place(specs, [str(i) for i in range(gpu_count)], block=block)
                 if s.spec.kind is not Kind.NEO4J]
        if not any(taken(p) for p in ports):
            return block
    return 0
