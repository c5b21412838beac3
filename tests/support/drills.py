"""What every fault drill shares (docs/drills.md): Jepsen's way of scoring a run — of what
was expected, how much was lost, duplicated, or appeared without being asked for — and an SMTP
server the drill can make answer 421/451/550 for chosen recipients."""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


@dataclass
class Score:
    name: str
    lost: int
    duplicated: int
    unexpected: int
    expected: int

    def line(self) -> str:
        return f"drill {self.name}: expected={self.expected} lost={self.lost} duplicated={self.duplicated} " \
               f"unexpected={self.unexpected}"


def score(name: str, expected: set, got: list) -> Score:
    """``got`` holds one item per effect seen (e-mail received, row written); duplicates count each
    repeat of an expected item, unexpected each item nobody asked for."""
    seen = Counter(got)
    result = Score(name, lost=len(expected - set(seen)),
                   duplicated=sum(n - 1 for k, n in seen.items() if k in expected),
                   unexpected=sum(n for k, n in seen.items() if k not in expected), expected=len(expected))
    print(result.line())
    return result


def wait_for(predicate, seconds: float = 30, step: float = 0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


class DrillSmtp:
    """An aiosmtpd server recording ``(recipient, Message-ID)`` per accepted message. ``script``
    maps a recipient to replies given to its RCPT in turn (then 250); a reply starting with 5 is
    given for ever (a permanent refusal is never retried)."""

    def __init__(self, port: int):
        self.port = port
        self.received: list[tuple[str, str]] = []
        self.refused: Counter = Counter()
        self.script: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=port)

    def start(self) -> "DrillSmtp":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self._lock:
            replies = self.script.get(address)
            if replies:
                reply = replies[0] if replies[0].startswith("5") else replies.pop(0)
                self.refused[address] += 1
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append((rcpt, str(msg["Message-ID"])))
        return "250 Message accepted for delivery"

    def to(self, suffix: str) -> list[str]:
        """Recipients of accepted messages whose address ends with ``suffix`` (one per message)."""
        with self._lock:
            return [rcpt for rcpt, _ in self.received if rcpt.endswith(suffix)]
