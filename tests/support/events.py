"""Publishing a service's events onto the bus the way the service does (for consumers under test)."""
from __future__ import annotations

from chassis.bus import ConfirmingPublisher, event_exchange
from chassis.events import make_envelope


def publish(env, data, times: int = 1) -> None:
    """Publish the moderation event ``data`` ``times`` times (a redelivery is the same envelope)."""
    envelope = make_envelope(data).model_dump(mode="json")
    publisher = ConfirmingPublisher(env.amqp_uri)
    for _ in range(times):
        publisher.publish(envelope, exchange=event_exchange("moderation"), routing_key=type(data).event_type)
    publisher.close()
