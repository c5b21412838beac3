"""PostgreSQL beyond one server (docs/kubernetes.md, "PgBouncer" and "Read replica"), on THROWAWAY
servers started here: a primary, a streaming replica of it (pg_basebackup + its own pg_ctl), and
Debian's PgBouncer in transaction mode in front of the primary.

* The whole system works with every service connected through PgBouncer: migrations, sign-in
  (registry), drafting and publishing (consultations, its outbox and events), a comment screened
  by moderation through its event, notifications and reports taking the published event.
* Reads that may lag (the public list) are served by the replica of ``DATABASE_READ_URL``: with the
  replica's replay paused, a newly published consultation is on the primary (its page) and not yet
  in the list; once replay resumes, it is.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import COMMUNITY_CODE
from tests.support.samples import FULL_NOTICE, draft_body
from tests.support.consultations import today
from tests.support.api import Caller, dev_login
from tests.support.cluster import ROOT, Cluster
from tests.support.drills import wait_for
from tests.support.throwaway import ThrowawayPgBouncer, ThrowawayPostgres, ThrowawayStandby
from tests.support.world import migrate

THROUGH_PGBOUNCER = {"DB_IDLE_IN_TRANSACTION_SECONDS": "0",  # PgBouncer refuses the startup option
                     "DB_PREPARED_STATEMENTS": "false"}     # PgBouncer 1.18 cannot carry them


@pytest.fixture(scope="module")
def stack(make_env):
    with ThrowawayPostgres() as primary, ThrowawayStandby(primary) as replica, \
            ThrowawayPgBouncer(primary.port) as bouncer:
        env = make_env(DATABASE_URL=bouncer.url, DATABASE_READ_URL=replica.url, COMMUNITY_CODE=COMMUNITY_CODE,
                       **THROUGH_PGBOUNCER)
        env.database_url = bouncer.url
        migrate(env)  # through PgBouncer too: the migration lock lives and ends in one transaction
        cluster = Cluster(env.vars, ROOT / "var" / "test-logs" / env.run_id, env.base_url)
        cluster.start_all()
        try:
            cluster.wait_ready(120)
            yield {"env": env, "cluster": cluster, "primary": primary, "replica": replica, "bouncer": bouncer}
        finally:
            cluster.stop_all()


def publish(official: Caller, title: str) -> dict:
    body = draft_body(notice=FULL_NOTICE, starts_on=today().isoformat(),
                      ends_on=(today() + timedelta(days=30)).isoformat(), title=title)
    r = official.post("/api/v1/consultations", json=body)
    assert r.status_code == 201, r.text
    c = official.post(f"/api/v1/consultations/{r.json()['id']}/publish")
    assert c.status_code == 200 and c.json()["status"] == "active", c.text
    return c.json()


def test_every_service_works_through_pgbouncer_in_transaction_mode(stack):
    base, bouncer = stack["env"].base_url, stack["bouncer"]
    official = dev_login(base, ["official"], unit="Управління освіти", full_name="Посадовиця Ірина")
    resident = dev_login(base, full_name="Мешканка Оксана Петрівна")
    c = publish(official, "Мережа шкіл на 2027 рік")
    text = "Пропоную зберегти початкову школу в мікрорайоні Сонячний"
    r = resident.post(f"/api/v1/consultations/{c['id']}/comments", json={"body": text})
    assert r.status_code == 201, r.text
    anonymous = Caller(base)
    # moderation screens it from consultations' event, consultations publishes it from moderation's
    assert wait_for(lambda: [x for x in anonymous.get(f"/api/v1/consultations/{c['id']}/comments")
                             .json()["items"] if x["body"] == text], 30), "the comment went through screening"
    assert resident.get("/api/v1/me").status_code == 200
    pools = {p["database"] for p in bouncer.show("POOLS")}
    prefix = stack["env"].db_prefix
    assert {f"{prefix}{s}" for s in ("consultations", "moderation", "notifications", "registry", "reports")} <= pools
    logs = "\n".join(stack["cluster"].logs(n) for n in stack["cluster"].commands)
    assert "prepared statement" not in logs and "unsupported startup parameter" not in logs


def test_lag_tolerant_reads_are_served_by_the_replica(stack):
    base, replica = stack["env"].base_url, stack["replica"]
    official = dev_login(base, ["official"], unit="Управління культури", full_name="Посадовець Андрій")
    anonymous = Caller(base)

    def listed(cid: str) -> bool:
        r = anonymous.get("/api/v1/consultations?status=active&per_page=100")
        return r.status_code == 200 and cid in [x["id"] for x in r.json()["items"]]

    first = publish(official, "Бібліотека в старому кінотеатрі")
    assert wait_for(lambda: listed(first["id"]), 20), "the replica follows the primary"
    replica.sql("SELECT pg_wal_replay_pause()")
    try:
        second = publish(official, "Музей міста в колишній пошті")
        assert anonymous.get(f"/api/v1/consultations/{second['id']}").status_code == 200  # the primary has it
        assert not listed(second["id"]), "the list must come from the (paused) replica"
    finally:
        replica.sql("SELECT pg_wal_replay_resume()")
    assert wait_for(lambda: listed(second["id"]), 20)
