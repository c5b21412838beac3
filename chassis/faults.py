"""Test-only fault injection for the fault drills (docs/drills.md).

``FAULT_POINT=<name>`` makes the process SIGKILL itself the first time (after ``FAULT_SKIP``
passes) it reaches :func:`fault_point` with that name, so a drill can kill a service exactly
between two steps (after the SMTP 250 and before the commit, between the outbox commit and the
publish …), which an outside ``kill`` can only hit by chance. Off by default (nothing set, each
call is one dictionary lookup); refused when ``APP_ENV=production``: :func:`refuse_in_production`
stops the service runner and the gateway from starting, and the hook itself will not fire there.

Points: ``notifications.after_claim``, ``notifications.after_smtp_250``,
``notifications.after_sent_commit``, ``notifications.after_commit_before_ack``,
``outbox.before_publish``, ``outbox.after_publish``, ``notifications.webhook_after_response`` (a
receiver answered 2xx, not yet recorded).
"""
from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

POINTS = ("notifications.after_claim", "notifications.after_smtp_250", "notifications.after_sent_commit",
          "notifications.after_commit_before_ack", "outbox.before_publish", "outbox.after_publish",
          "notifications.webhook_after_response")
_passes: dict[str, int] = {}


def refuse_in_production(app_env: str, point: str) -> None:
    if point and app_env == "production":
        raise RuntimeError("FAULT_POINT is a test-only hook and must be unset when APP_ENV=production")
    if point and point not in POINTS:
        raise RuntimeError(f"unknown FAULT_POINT {point!r}; known: {', '.join(POINTS)}")


def fault_point(name: str) -> None:
    """SIGKILL this process here if ``FAULT_POINT`` names this point (once, after ``FAULT_SKIP`` passes)."""
    if os.environ.get("FAULT_POINT") != name or os.environ.get("APP_ENV") == "production":
        return
    passes = _passes[name] = _passes.get(name, 0) + 1
    if passes <= int(os.environ.get("FAULT_SKIP", "0") or 0):
        return
    log.warning("fault drill: SIGKILL at %s (pass %d)", name, passes)
    for handler in logging.getLogger().handlers:
        handler.flush()
    os.kill(os.getpid(), signal.SIGKILL)
