"""The reports service's real PostgreSQL database for the tests of this folder (migrated once a
module), and ``transaction``: a unit of work's transaction over it, as the handlers take it."""
from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from chassis.db import make_engine
from services.reports.store import Store
from tests.support.world import migrate


@pytest.fixture(scope="module")
def engine(env):
    migrate(env)
    e = make_engine("reports", env.settings())
    yield e
    e.dispose()


@pytest.fixture()
def transaction(engine):
    def open_one():
        class Tx:
            def __enter__(self):
                self.session = Session(engine, expire_on_commit=False)
                self.session.begin()
                return Store(self.session)

            def __exit__(self, kind, *_):
                (self.session.rollback if kind else self.session.commit)()
                self.session.close()
        return Tx()
    return open_one
