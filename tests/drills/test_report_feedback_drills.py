"""Fault drills on the "you said, we did" fan-out at report publication (R-3.16): the same kills as
the start-day fan-out's (tests/drills/test_notification_drills.py), scored the same way, with the
cabinet messages counted too (exactly one per contributor and version, always). Real registry,
reports and notifications processes on the real bus and database; the published report is written
into the reports database and its ``report_published`` event published as the reports service does;
the SMTP server is the test's own. Seeds are fixed, so a failing run replays."""
from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from datetime import datetime, timezone

import psycopg
import pytest

from chassis.bus import ConfirmingPublisher, event_exchange
from chassis.events import make_envelope
from contracts.reports import ReportPublished
from tests.drills.test_notification_drills import KILLS
from tests.support.cluster import ROOT, Cluster
from tests.support.drills import DrillSmtp, score, wait_for
from tests.support.world import migrate

SEED = 20261130
PEOPLE = 40
PERSONS_SQL = """
INSERT INTO persons (id, subject, full_name, birth_date, community_member, email, interests, email_enabled,
                     consent_version, consented_at)
SELECT gen_random_uuid(), %(tag)s || '-' || g, 'Автор ' || g, DATE '1980-01-01', true,
       'p' || g || '@' || %(tag)s || '.example', ARRAY[]::smallint[], %(email)s, '2026-11', now()
FROM generate_series(1, %(n)s) AS g RETURNING id, email
"""
OUTCOMES = (("accepted", None), ("partly_accepted", "Частково: у межах бюджету"),
            ("not_accepted", "Суперечить Правилам благоустрою"))


class World:
    def __init__(self, env, cluster: Cluster, smtp: DrillSmtp):
        self.env, self.cluster, self.smtp = env, cluster, smtp

    def db(self, service: str):
        return psycopg.connect(f"{self.env.database_url}/{self.env.db_prefix}{service}", autocommit=True)

    def restart_notifications(self, **extra) -> None:
        self.cluster.stop("notifications")
        self.cluster.start("notifications", env={k: str(v) for k, v in extra.items()})
        time.sleep(0.5)
        from nameko.standalone.rpc import ClusterRpcProxy

        with ClusterRpcProxy({"AMQP_URI": self.env.amqp_uri}, timeout=10) as rpc:
            self.cluster.wait_rpc(rpc, "notifications")

    def report(self, n: int = PEOPLE, without_email: int = 0) -> tuple[uuid.UUID, set[str], int]:
        """A closed consultation whose report version 1 is published: ``n`` authors with e-mail (one
        to three comments each, every one considered) and ``without_email`` authors without.
        Returns the consultation, the addresses that must get one e-mail, and all authors' count."""
        tag, cid, rnd = "r" + uuid.uuid4().hex[:8], uuid.uuid4(), random.Random(f"{SEED}:{n}:{without_email}")
        with self.db("registry") as conn:
            people = conn.execute(PERSONS_SQL, {"tag": tag, "n": n, "email": True}).fetchall()
            people += conn.execute(PERSONS_SQL, {"tag": tag + "x", "n": without_email, "email": False}).fetchall()
        page = {"title": "Навчальний звіт", "question": "?", "alternatives": [], "paragraphs": [], "decision": None}
        with self.db("reports") as conn:
            conn.execute("INSERT INTO snapshots (consultation_id, title, category, form, source) "
                         "VALUES (%s, 'Навчальний звіт', 1, 'proposal', %s)", (cid, json.dumps({"consultation": page})))
            seq = 0
            for person_id, _ in people:
                for _ in range(rnd.randint(1, 3)):
                    seq += 1
                    comment_id, (outcome, why) = uuid.uuid4(), rnd.choice(OUTCOMES)
                    conn.execute("INSERT INTO feed_comments (consultation_id, comment_id, author_id, author_name, body, "
                                 "created_at, status, rank) VALUES (%s, %s, %s, 'Автор', %s, now(), 'published', 1)",
                                 (cid, comment_id, person_id, f"Пропозиція {seq}"))
                    conn.execute("INSERT INTO snapshot_comments (consultation_id, comment_id, seq, author_name, body, "
                                 "created_at, status) VALUES (%s, %s, %s, 'Автор', %s, now(), 'published')",
                                 (cid, comment_id, seq, f"Пропозиція {seq}"))
                    conn.execute("INSERT INTO considerations (consultation_id, comment_id, outcome, justification, "
                                 "decided_by) VALUES (%s, %s, %s, %s, %s)", (cid, comment_id, outcome, why, uuid.uuid4()))
            conn.execute("INSERT INTO reports (id, consultation_id, version, status, published_at, reason, files) "
                         "VALUES (%s, %s, 1, 'published', now(), 'publish', '{}')", (uuid.uuid4(), cid))
        return cid, {email for _, email in people[:n]}, len(people)

    def publish(self, cid: uuid.UUID, times: int = 1) -> None:
        envelope = make_envelope(ReportPublished(consultation_id=cid, report_version=1,
                                                 published_at=datetime.now(timezone.utc))).model_dump(mode="json")
        publisher = ConfirmingPublisher(self.env.amqp_uri)
        for _ in range(times):
            publisher.publish(envelope, exchange=event_exchange("reports"), routing_key="report_published")
        publisher.close()

    def statuses(self, cid: uuid.UUID) -> dict[str, int]:
        with self.db("notifications") as conn:
            return dict(conn.execute(
                "SELECT d.status, count(*) FROM deliveries d JOIN feedback_messages m ON m.id = d.feedback_id "
                "WHERE d.kind = 'report_feedback' AND m.consultation_id = %s GROUP BY d.status", (cid,)).fetchall())

    def settled(self, cid: uuid.UUID, n: int) -> bool:
        s = self.statuses(cid)
        return sum(s.values()) == n and not s.get("pending") and not s.get("sending")

    def cabinet_messages(self, cid: uuid.UUID) -> Counter:
        """Cabinet messages per person about this report (the link names the consultation)."""
        with self.db("notifications") as conn:
            return Counter(r[0] for r in conn.execute("SELECT person_id FROM inbox WHERE link LIKE %s",
                                                      (f"%/consultations/{cid}#report",)))

    def accepted_not_committed(self, cid: uuid.UUID, mark: int) -> set[str]:
        with self.db("notifications") as conn:
            people = [r[0] for r in conn.execute(
                "SELECT d.person_id FROM deliveries d JOIN feedback_messages m ON m.id = d.feedback_id "
                "WHERE m.consultation_id = %s AND d.status = 'sending'", (cid,))]
        with self.db("registry") as conn:
            emails = {r[0] for r in conn.execute("SELECT email FROM persons WHERE id = ANY(%s)", (people,))}
        return emails & set(self.received_since(mark))

    def received_since(self, mark: int) -> list[str]:
        return [rcpt for rcpt, _ in self.smtp.received[mark:]]


@pytest.fixture(scope="module")
def world(make_env):
    env = make_env(SMTP_BATCH=5, DELIVERY_STUCK_SECONDS=3, EVENT_MAX_ATTEMPTS=3, SMTP_CONCURRENCY=2)
    migrate(env)
    smtp = DrillSmtp(int(env.vars["SMTP_PORT"])).start()
    cluster = Cluster(env.vars, ROOT / "var" / "test-logs" / env.run_id, "")
    cluster.start("registry")
    cluster.start("reports")
    w = World(env, cluster, smtp)
    w.restart_notifications()
    yield w
    cluster.stop_all()
    smtp.stop()


@pytest.mark.parametrize("point,skips", KILLS, ids=[k[0].split(".")[1] for k in KILLS])
def test_R_3_16_report_fanout_killed_at_each_point_is_exactly_once(world, point, skips):
    """Clause R-3.16. As at the start day: no e-mail lost, none unexpected, a duplicate only for an e-mail the server
    accepted whose row was still ``sending`` at the kill (at most one extra copy, same Message-ID);
    every contributor has exactly one cabinet message, e-mail or not."""
    skip = random.Random(f"{SEED}:{point}").randrange(*skips)
    cid, want, authors = world.report(PEOPLE, without_email=5)
    world.restart_notifications(FAULT_POINT=point, FAULT_SKIP=skip)
    proc = world.cluster.procs["notifications"]
    mark = len(world.smtp.received)
    world.publish(cid)
    assert wait_for(lambda: proc.poll() is not None, 60), f"{point} never reached"
    assert proc.returncode == -9, world.cluster.logs("notifications")[-2000:]
    window = world.accepted_not_committed(cid, mark)
    world.restart_notifications()
    assert wait_for(lambda: world.settled(cid, authors), 60), world.statuses(cid)
    time.sleep(1.0)  # a duplicate would arrive now
    got = world.received_since(mark)
    s = score(f"report kill@{point.split('.')[1]} (skip {skip})", want, got)
    print(f"  {len(window)} e-mail(s) between the 250 and the commit at the kill")
    assert s.lost == 0 and s.unexpected == 0
    repeated = {r: n for r, n in Counter(got).items() if n > 1}
    assert set(repeated) <= window and all(n == 2 for n in repeated.values()), (repeated, window)
    if point == "notifications.after_smtp_250":
        assert window, "the killed sender's e-mail was accepted and not committed"
    assert world.statuses(cid) == {"sent": len(want), "skipped": authors - len(want)}
    cabinet = world.cabinet_messages(cid)
    assert len(cabinet) == authors and set(cabinet.values()) == {1}, cabinet


def test_R_3_16_the_same_report_event_five_times_tells_each_contributor_once(world):
    """Clause R-3.16."""
    cid, want, authors = world.report(10, without_email=2)
    mark = len(world.smtp.received)
    world.publish(cid, times=5)
    assert wait_for(lambda: world.settled(cid, authors), 60), world.statuses(cid)
    time.sleep(2.0)
    s = score("report event ×5", want, world.received_since(mark))
    assert (s.lost, s.duplicated, s.unexpected) == (0, 0, 0)
    cabinet = world.cabinet_messages(cid)
    assert len(cabinet) == authors and set(cabinet.values()) == {1}
