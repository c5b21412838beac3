"""In-memory stand-ins for a service's unit of work and store (``chassis.store``), so handlers
run in unit tests without PostgreSQL. A service's fake store subclasses :class:`MemoryStore` and
keeps its tables as Python collections."""
from __future__ import annotations

import copy
from contextlib import contextmanager


class MemoryStore:
    """The outbox and the once-per-event claims, in memory."""

    def __init__(self):
        self.events: list = []
        self.claims: set[tuple[str, object]] = set()

    def add_event(self, data) -> None:
        self.events.append(data)

    def add_events(self, facts: list) -> None:
        self.events.extend(facts)

    def claim_event(self, handler: str, event_id) -> bool:
        if (handler, event_id) in self.claims:
            return False
        self.claims.add((handler, event_id))
        return True

    def claim_events(self, pairs) -> set:
        return {pair for pair in pairs if self.claim_event(*pair)}

    def events_of(self, cls) -> list:
        return [e for e in self.events if isinstance(e, cls)]


class FakeUnitOfWork:
    """Yields the one fake store; a block that raises leaves the store as it was before the block
    (a rolled-back transaction)."""

    def __init__(self, store: MemoryStore):
        self.store = store
        self.commits = 0

    @contextmanager
    def transaction(self):
        before = copy.deepcopy(self.store.__dict__)
        try:
            yield self.store
        except BaseException:
            self.store.__dict__.clear()
            self.store.__dict__.update(before)
            raise
        self.commits += 1

    reading = transaction


def fixtures(store_class):
    """The pytest fixtures ``store`` (a fresh ``store_class``) and ``uow`` (a unit of work over it), for a
    test module to bind: ``store, uow = fixtures(FakeStore)``."""
    import pytest

    @pytest.fixture
    def store():
        return store_class()

    @pytest.fixture
    def uow(store):
        return FakeUnitOfWork(store)

    return store, uow
