"""The services job's side: the supervisor that runs on the compute node(s) inside the Slurm job.

`python -m codex_console.node` is what the sbatch script execs. It reads the job's spec (the
settings and catalogue the console rendered), starts every service instance on the GPUs Slurm
gave the job, keeps them up within limits, publishes where they are in the endpoints file and
hands over to a successor before the time limit. Standard library only: no console packages.
"""
