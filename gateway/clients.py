"""The gateway's typed clients of the services, over the app's pooled RPC proxies (gateway.rpc).

Each is the service's contract class from ``contracts/`` (methods declared once there); a call
encodes the arguments for the wire and returns the declared response model.
"""
from __future__ import annotations

from flask import current_app

from contracts.consultations import Consultations
from contracts.moderation import Moderation
from contracts.notifications import Notifications
from contracts.registry import Registry
from contracts.reports import Reports


def call(service: str, method: str, *args):
    """One RPC round trip through the current app's pool; typed service errors pass through."""
    return current_app.extensions["rpc"].call(service, method, *args)


consultations = Consultations(call)
moderation = Moderation(call)
notifications = Notifications(call)
registry = Registry(call)
reports = Reports(call)
