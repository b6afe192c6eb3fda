"""codex-console: operate the codex embedding server and Neo4j on a Slurm GPU node."""

__version__ = "0.1.0"
