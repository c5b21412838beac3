"""Units of work over a service's store.

A service keeps all its SQL in one ``store.py``: a class over one SQLAlchemy session, subclassing
:class:`SqlStore`. Its handlers never see the session; they open a unit of work and get the store::

    def grant_role(uow, ...):
        with uow.transaction() as store:
            store.insert_role(...)

In production ``uow`` is ``UnitOfWork(self.db, Store)`` (commit on leaving the block, outbox relay
kicked); in unit tests it is ``FakeUnitOfWork(fake_store)`` from ``tests/support/fakes.py``, so
handlers run without PostgreSQL.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Generic, Iterator, TypeVar

from sqlalchemy.orm import Session

from chassis.consumer import claim_event, claim_events
from chassis.outbox import add_event, add_events


class SqlStore:
    """What every service's store has: the event outbox and the once-per-event claims, in the
    store's transaction."""

    def __init__(self, session: Session):
        self.session = session

    def add_event(self, data) -> None:
        add_event(self.session, data)

    def add_events(self, facts: list) -> None:
        """Several facts of one change into the outbox in one statement."""
        add_events(self.session, facts)

    def claim_event(self, handler: str, event_id) -> bool:
        """True the first time ``handler`` sees ``event_id``; False on every redelivery."""
        return claim_event(self.session, handler, event_id)

    def claim_events(self, pairs: list[tuple[str, object]]) -> set[tuple[str, object]]:
        """Of ``(handler, event_id)`` pairs, those seen for the first time (one statement)."""
        return claim_events(self.session, pairs)


S = TypeVar("S", bound=SqlStore)


class UnitOfWork(Generic[S]):
    """``transaction()`` yields the store over a session that commits when the block ends;
    ``reading()`` one that may read a replica (public lists, feeds)."""

    def __init__(self, db, store: type[S]):
        self.db = db
        self.store = store

    @contextmanager
    def transaction(self) -> Iterator[S]:
        with self.db.transaction() as session:
            yield self.store(session)

    @contextmanager
    def reading(self) -> Iterator[S]:
        with self.db.reading() as session:
            yield self.store(session)


class OpenUnit:
    """A unit of work inside a transaction the caller already holds: every handler called with it
    runs in that one transaction (scripts that load data atomically, in-process benchmarks)."""

    def __init__(self, store: SqlStore):
        self.store = store

    @contextmanager
    def transaction(self) -> Iterator[SqlStore]:
        yield self.store

    reading = transaction
