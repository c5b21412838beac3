"""Settings, typed errors and the registry's RPC layer without a broker (nameko's worker_factory)."""
from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from nameko.exceptions import deserialize, serialize
from nameko.testing.services import worker_factory

from chassis.errors import InvalidInput, NotFound
from chassis.settings import Settings
from services.registry.service import RegistryService


def test_each_service_gets_its_own_database_on_the_same_server():
    s = Settings(database_url="postgresql://postgres:secret@db.example:5433", db_prefix="kor_")
    assert s.service_db_url("registry") == "postgresql+psycopg://postgres:secret@db.example:5433/kor_registry"
    assert s.maintenance_db_url().endswith("@db.example:5433/postgres")


def test_typed_errors_survive_the_rpc_round_trip():
    err = NotFound("Консультацію не знайдено", code="consultation_not_found",
                   errors=[{"field": "id", "message": "немає"}])
    back = deserialize(serialize(err))
    assert type(back) is NotFound and back.status == 404
    assert back.code == "consultation_not_found" and back.errors[0]["field"] == "id"
    assert back.detail == "Консультацію не знайдено"


def test_register_person_refuses_bad_input_before_touching_the_database():
    service = worker_factory(RegistryService, db=MagicMock())
    with pytest.raises(InvalidInput) as caught:
        service.register_person({"subject": "", "full_name": "Іван", "roles": ["admin"]})
    assert {e["field"] for e in caught.value.errors} == {"person.subject", "person.roles"}  # named under the parameter, as every declared method does
    service.db.transaction.assert_not_called()


def test_a_bounded_engine_still_raises_the_drivers_own_error_when_it_cannot_connect():
    """chassis.db.bound_silence's hooks leave other failures alone: a refused connection (no cursor,
    no timer armed) stays sqlalchemy's OperationalError, and the pool's ping is the bounded one."""
    import socket

    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    from chassis.db import bound_silence

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/x", pool_pre_ping=True)
    bound_silence(engine, 5)
    with pytest.raises(OperationalError):
        engine.connect()
    assert engine.dialect.do_ping.__name__ == "bounded_ping"
