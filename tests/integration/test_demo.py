"""The demo set loads into fresh databases and loading it again changes nothing."""
from __future__ import annotations

import subprocess
import sys

from sqlalchemy import func, select

from chassis.db import make_engine
from services.consultations.models import consultations
from tests.support.cluster import ROOT
from tests.support.world import migrate


def test_demo_loads_once(make_env):
    world = make_env()
    migrate(world)
    for expected in ("demo data loaded", "demo data already loaded"):
        out = subprocess.run([sys.executable, "-m", "deploy.demo"], cwd=ROOT, env=world.vars,
                             capture_output=True, text=True, check=True).stdout
        assert expected in out
    engine = make_engine("consultations", world.settings())
    with engine.connect() as conn:
        by_status = dict(conn.execute(select(consultations.c.status, func.count())
                                      .group_by(consultations.c.status)).all())
    engine.dispose()
    assert by_status == {"active": 2, "scheduled": 1, "draft": 1, "submitted": 1}
