"""RPC under broker faults: at most once, and a service that survives (found by the drills,
docs/drills.md).

* nameko 2.14 publishes an RPC reply with 3 quick retries; if the broker is still away the error
  escapes the worker and kills the whole service container, so one broker restart took the
  service down for good (under honcho, every process with it). Here a reply that cannot be sent is
  a logged warning: the caller has already got its timeout (the gateway answers 503) and the
  service keeps running and reconnects by itself.
* A request whose connection dropped before its ack comes back from the broker marked
  ``redelivered``; running it again would apply a command twice (the AMQP drop drill saw one
  comment-like item created twice). Such a request is answered with a typed ``Unavailable`` (503)
  and not run: RPC is at most once, the caller learns it failed and may try again, and events
  (the at-least-once path) are untouched.
* Every publish (replies and events) waits at most ``AMQP_PUBLISH_TIMEOUT`` for its confirm: the
  confirm is also how a reply notices a half-open connection (pooled publisher connections have no
  heartbeat), so replies keep it.

Installed by ``chassis.run`` before the service starts.
"""
from __future__ import annotations

import logging
import sys

from kombu.exceptions import OperationalError
from nameko.amqp.publish import Publisher
from nameko.rpc import RpcConsumer

from chassis.errors import Unavailable
from chassis.settings import get_settings

log = logging.getLogger(__name__)
REPLY_ERRORS = (OperationalError, ConnectionError, OSError)


def install() -> None:
    if getattr(RpcConsumer.handle_result, "_econsult", False):
        return
    handle_message, handle_result = RpcConsumer.handle_message, RpcConsumer.handle_result

    def at_most_once(self, body, message):
        if not message.delivery_info.get("redelivered"):
            return handle_message(self, body, message)
        log.warning("RPC request %s redelivered after a broken connection: refused, not run twice",
                    message.delivery_info.get("routing_key"))
        try:
            raise Unavailable("Запит перервано збоєм зв'язку; повторіть його", code="request_interrupted")
        except Unavailable:
            self.handle_result(message, None, sys.exc_info())

    def reply_or_warn(self, message, result, exc_info):
        try:
            return handle_result(self, message, result, exc_info)
        except REPLY_ERRORS as exc:
            log.warning("RPC reply not sent, the broker is unreachable (%s: %s); the caller timed out",
                        type(exc).__name__, exc)
            return result, exc_info

    reply_or_warn._econsult = True
    RpcConsumer.handle_message, RpcConsumer.handle_result = at_most_once, reply_or_warn

    # nameko waits for a publish confirm without a limit: on a half-open connection a reply would
    # hold its worker for ever. Bounded, the wait fails and kombu's retry reconnects.
    publish = Publisher.publish
    limit = get_settings().amqp_publish_timeout

    def bounded_publish(self, payload, **kwargs):
        kwargs.setdefault("timeout", limit)
        kwargs.setdefault("confirm_timeout", limit)
        return publish(self, payload, **kwargs)

    Publisher.publish = bounded_publish
