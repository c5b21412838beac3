"""The typed errors of :mod:`chassis.errors` cross nameko RPC intact.

Each class is registered with nameko's deserialiser, so a caller's RPC proxy raises the same class with
the same payload (the gateway turns it into ``application/problem+json``). The registration lives here,
not in ``chassis.errors``, so that the errors rules raise stay free of nameko. Every process that makes
RPC calls imports this module: the services (``chassis.service``), the gateway (``gateway/rpc.py``), the
health check, and the test session (``tests/conftest.py``).
"""
from __future__ import annotations

from nameko.exceptions import deserialize_to_instance

from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError, TooManyRequests, Unavailable

TYPED = (ServiceError, InvalidInput, NotFound, Forbidden, Conflict, TooManyRequests, Unavailable)

for _error in TYPED:
    deserialize_to_instance(_error)
