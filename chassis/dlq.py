"""Parked events (``<queue>.dead``): list, show, replay, purge.

``python -m chassis.dlq list|show|replay|purge [--queue Q] [--since WHEN] [--id MESSAGE_ID]``

* ``list``   every parked message: queue, message id, event type, attempts, when parked, the error.
* ``show``   one message (``--id``) in full: headers and the envelope (it may hold personal data:
  the operator's terminal only).
* ``replay`` sends the selected messages back to the queue of the handler that failed them, with
  the attempt count reset (the request id and ``traceparent`` kept), and only then removes them
  from ``.dead``. Only the failed handler gets the event again: the other subscribers of its type
  already handled it. Handlers dedupe by ``event_id`` (``claim_event``), so a replay is safe.
* ``purge``  drops the selected messages; asks to type the queue name (or ``--yes``).

``--queue`` is a main queue name (``evt-...--service.method``, with or without ``.dead``) or a
part of one; ``--since`` an ISO time or a duration back from now (``30m``, ``2h``, ``7d``).
Messages are read with ``basic_get`` without an ack: those not selected go back untouched.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from kombu import Connection

from chassis.bus import ConfirmingPublisher
from chassis.consumer import ATTEMPTS_HEADER, ERROR_HEADER, OUTAGES_HEADER, PARKED_AT_HEADER
from chassis.settings import get_settings

REPLAYED_HEADER = "x-econsult-replayed"


@dataclass
class Parked:
    queue: str  # the main queue; the message sits in queue + ".dead"
    message: object  # kombu message, unacked

    @property
    def headers(self) -> dict:
        return dict(self.message.headers or {})

    @property
    def message_id(self) -> str | None:
        return self.message.properties.get("message_id")

    @property
    def parked_at(self) -> datetime | None:
        value = self.headers.get(PARKED_AT_HEADER)
        return datetime.fromisoformat(value) if value else None

    def summary(self) -> dict:
        body = _body(self.message)
        return {"queue": self.queue, "message_id": self.message_id, "type": body.get("type"),
                "attempts": self.headers.get(ATTEMPTS_HEADER), "parked_at": self.headers.get(PARKED_AT_HEADER),
                "error": self.headers.get(ERROR_HEADER), "replayed": self.headers.get(REPLAYED_HEADER, 0)}


def _body(message) -> dict:
    try:
        return json.loads(message.body)
    except (TypeError, ValueError):
        return {}


def dead_queues(pattern: str | None = None) -> list[str]:
    """The main queues of every subscription (their ``.dead`` siblings hold the parked messages)."""
    from chassis.app import all_service_classes
    from chassis.topology import subscriptions_of

    queues = sorted({b.queue for cls in all_service_classes() for b in subscriptions_of(cls)})
    if pattern:
        pattern = pattern.removesuffix(".dead")
        exact = [q for q in queues if q == pattern]
        queues = exact or [q for q in queues if pattern in q]
    return queues


def parse_since(value: str | None, now: datetime | None = None) -> datetime | None:
    if not value:
        return None
    now = now or datetime.now(timezone.utc)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", value.strip())
    if m:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
        return now - timedelta(**{unit: float(m.group(1))})
    when = datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


class DeadLetters:
    """Reads the ``.dead`` queues on one channel; what is not acked returns to its queue on close."""

    def __init__(self, amqp_uri: str):
        self.conn = Connection(amqp_uri, connect_timeout=10)
        self.channel = self.conn.channel()

    def fetch(self, queues: list[str], since: datetime | None = None, message_id: str | None = None) -> list[Parked]:
        found = []
        for queue in queues:
            while True:
                message = self.channel.basic_get(f"{queue}.dead", no_ack=False)
                if message is None:
                    break
                message = self.channel.message_to_python(message)
                parked = Parked(queue, message)
                if since and (parked.parked_at is None or parked.parked_at < since):
                    continue
                if message_id and parked.message_id != message_id:
                    continue
                found.append(parked)
        return found

    def remove(self, parked: Parked) -> None:
        parked.message.ack()

    def close(self) -> None:
        try:
            self.channel.close()  # unacked messages go back to their .dead queue
        finally:
            self.conn.release()


def replay(publisher: ConfirmingPublisher, parked: Parked) -> None:
    headers = {k: v for k, v in parked.headers.items()
               if k not in (ATTEMPTS_HEADER, OUTAGES_HEADER, ERROR_HEADER, PARKED_AT_HEADER)}
    headers[REPLAYED_HEADER] = int(parked.headers.get(REPLAYED_HEADER, 0)) + 1
    publisher.publish(_body(parked.message), exchange="", routing_key=parked.queue, headers=headers,
                      message_id=parked.message_id)


def main(argv: list[str] | None = None, stdin=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chassis.dlq", description="Parked events: inspect and mend")
    parser.add_argument("command", choices=("list", "show", "replay", "purge"))
    parser.add_argument("--queue", help="a subscription queue, or part of its name (default: all)")
    parser.add_argument("--since", help="only messages parked since: ISO time or 30m / 2h / 7d")
    parser.add_argument("--id", dest="message_id", help="one message (its message id = the event id)")
    parser.add_argument("--yes", action="store_true", help="purge without asking")
    args = parser.parse_args(argv)
    if args.command == "show" and not args.message_id:
        parser.error("show needs --id")
    queues = dead_queues(args.queue)
    if not queues:
        print(f"no subscription queue matches {args.queue!r}", file=sys.stderr)
        return 2
    settings = get_settings()
    letters = DeadLetters(settings.amqp_uri)
    try:
        selected = letters.fetch(queues, parse_since(args.since), args.message_id)
        if args.command == "list":
            for p in selected:
                print(json.dumps(p.summary(), ensure_ascii=False))
            print(f"{len(selected)} parked", file=sys.stderr)
        elif args.command == "show":
            for p in selected:
                print(json.dumps({**p.summary(), "headers": p.headers, "body": _body(p.message)},
                                 ensure_ascii=False, indent=2, default=str))
            if not selected:
                print("no such parked message", file=sys.stderr)
                return 1
        elif args.command == "replay":
            publisher = ConfirmingPublisher(settings.amqp_uri)
            try:
                for p in selected:
                    replay(publisher, p)
                    letters.remove(p)  # after the broker confirmed the replay: nothing lost
                    print(json.dumps({"replayed": p.message_id, "queue": p.queue}))
            finally:
                publisher.close()
            print(f"{len(selected)} replayed", file=sys.stderr)
        else:
            if not selected:
                print("0 purged", file=sys.stderr)
                return 0
            if not args.yes:
                names = sorted({p.queue for p in selected})
                print(f"purge {len(selected)} messages from {', '.join(n + '.dead' for n in names)}? "
                      f"type the number of messages to confirm: ", end="", file=sys.stderr, flush=True)
                answer = (stdin or sys.stdin).readline().strip()
                if answer != str(len(selected)):
                    print("not purged", file=sys.stderr)
                    return 1
            for p in selected:
                letters.remove(p)
            print(f"{len(selected)} purged", file=sys.stderr)
        return 0
    finally:
        letters.close()


if __name__ == "__main__":
    raise SystemExit(main())
