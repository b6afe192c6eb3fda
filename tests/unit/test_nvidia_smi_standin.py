"""The sandbox's stand-in nvidia-smi stays within what a real one can print: a pinned process
that exits while its GPU's use is sampled must not make the use (and the temperature read from
it) negative (a check once saw 'gpu0 -3359C' and went CRITICAL)."""

from __future__ import annotations

import subprocess
import sys
import time

from codex_console.sandbox import nvidia_smi_standin as standin


def test_a_process_that_exits_during_the_sample_counts_nothing(monkeypatch):
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        deadline = time.monotonic() + 30
        while standin.cpu_ticks(standin.proc_stat(busy.pid)) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)  # enough past ticks that losing them reads far below zero

        def exits_while_sampled(seconds: float) -> None:
            busy.kill()
            busy.wait()

        monkeypatch.setattr(standin.time, "sleep", exits_while_sampled)
        util = standin.cpu_percent([(busy.pid, "python", 100, 0)])
    finally:
        busy.kill()
        busy.wait()
    assert util == 0
