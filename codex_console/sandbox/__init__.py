"""The local sandbox cluster: real Slurm, sshd and a Bolt server on this one machine.

`codex-console sandbox up|down|status` drives it (see `manager.py`). Nothing here is imported
by the console itself: the console reaches the sandbox over SSH like any login node.
"""
