"""The typed errors cross nameko RPC as their own class (chassis.rpcerrors), while chassis.errors, which
rules raise, imports no nameko."""
from __future__ import annotations

import pytest
from nameko.exceptions import deserialize, serialize

import chassis.rpcerrors  # noqa: F401
from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError, Unavailable


@pytest.mark.parametrize("error", [InvalidInput("Некоректно", code="bad", errors=[{"field": "page", "message": "≥ 1"}]),
                                   NotFound("Немає"), Forbidden("Заборонено"), Conflict("Вже є"),
                                   Unavailable("Пізніше"), ServiceError("Загальна")])
def test_a_typed_error_arrives_as_its_class_with_its_payload(error):
    back = deserialize(serialize(error))
    assert type(back) is type(error) and back.payload == error.payload
