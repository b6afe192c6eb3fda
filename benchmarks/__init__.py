"""The embed server's benchmark (not installed): `python -m benchmarks.run --model PATH`."""
