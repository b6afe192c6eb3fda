"""The TUI tests draw clock times: draw them in one time zone wherever they run."""

from __future__ import annotations

import os
import time

os.environ["TZ"] = "UTC"
time.tzset()
