"""The reports service's real PostgreSQL database for the tests of this folder (one of its own,
migrated once a module), and ``transaction``: a unit of work's transaction over it, as the handlers take it."""
from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from services.reports.store import Store
from tests.support.world import own_database


@pytest.fixture(scope="module")
def engine(make_env):
    """A database of the module's own: the session's is also the running system's, whose reports
    service groups and consumes on its timers and would take the rows these tests look at."""
    with own_database(make_env, "reports") as e:
        yield e


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
