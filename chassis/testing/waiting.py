"""Waiting on a condition instead of sleeping a fixed time."""
from __future__ import annotations

import time


def eventually(check, seconds: float = 10):
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)
