"""codex-console: one screen (and one health check) for the codex services on a Slurm GPU node."""

__version__ = "0.2.0"
