"""A drill: RabbitMQ restarted in the middle of an e-mail fan-out. The system runs
against a RabbitMQ node of this test's own (never the shared broker on 5672, which other runs use):
the node is stopped and started again while the senders are half-way; the services reconnect by
themselves, every recipient gets exactly one e-mail, progress reaches sent = recipients and
`notification_batch_completed` is published (R-1.10, R-3.4)."""
from __future__ import annotations

import email
import time
import uuid
from email import policy
from pathlib import Path

import pytest
import requests
from kombu import Connection, Queue

from chassis.bus import event_exchange
from tests.support.consultations import announce
from tests.support.waiting import eventually
from tests.support.throwaway import ThrowawayInfra, ThrowawayRabbit
from tests.support.world import destroy_world, make_world, start_system

pytestmark = pytest.mark.system

N, CATEGORY = 400, 16
SEED = """
INSERT INTO persons (id, subject, full_name, birth_date, community_member, email, interests, email_enabled,
                     consent_version, consented_at)
SELECT gen_random_uuid(), '{tag}-' || g, 'Адресат ' || g, DATE '1985-05-05', true, 'r' || g || '@{tag}.example',
       CASE WHEN g % 2 = 0 THEN '{{}}'::smallint[] ELSE ARRAY[{category}]::smallint[] END, true, '2026-11', now()
FROM generate_series(1, {n}) AS g
"""


@pytest.fixture(scope="module")
def drill(infra):
    node = ThrowawayRabbit().start()
    node_infra = ThrowawayInfra(node, infra.database_url)
    # slow enough that the restart lands half-way: 2 senders × 25 e-mails/s, 20 claimed at a time
    env = make_world(node_infra, SMTP_RATE_PER_SECOND="25", SMTP_BATCH="20")
    try:
        cluster = start_system(env)
        try:
            yield node, env, cluster
        finally:
            cluster.stop_all()
    finally:
        destroy_world(node_infra, env)
        node.close()


def our_mails(mail_dir: Path, tag: str) -> list:
    out = []
    for path in mail_dir.glob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if tag in str(msg["To"]):
            out.append(msg)
    return out


def test_rabbitmq_restarted_during_a_fanout_every_recipient_one_email(drill):
    """Clause R-1.10."""
    import psycopg

    node, env, cluster = drill
    tag, mail_dir = "b" + uuid.uuid4().hex[:8], Path(env.vars["MAIL_DIR"])
    with psycopg.connect(f"{env.database_url}/{env.db_prefix}registry", autocommit=True) as conn:
        conn.execute(SEED.format(tag=tag, n=N, category=CATEGORY))
    # a durable tap on the node: it outlives the restart, as the services' own queues do
    with Connection(env.amqp_uri) as conn:
        tap = Queue(f"drill-{tag}", exchange=event_exchange("notifications"),
                    routing_key="notification_batch_completed", durable=True)
        tap.bind(conn.channel()).declare()
    started = announce(cluster, CATEGORY, "Благоустрій набережної річки Уж")
    cid = started["consultation"]["id"]
    assert eventually(lambda: len(our_mails(mail_dir, tag)) >= N // 8, seconds=60)
    node.stop()
    sent_at_stop = len(our_mails(mail_dir, tag))
    time.sleep(3)
    node.start()
    assert sent_at_stop < N, "the fan-out finished before the broker stopped: nothing was tested"

    def progress():
        try:
            r = started["official"].get(f"/api/v1/consultations/{cid}/notifications")
        except requests.RequestException:
            return None
        return r.json() if r.status_code == 200 else None

    done = eventually(lambda: (p := progress()) and p["status"] == "done" and p, seconds=180)
    assert done, (progress(), cluster.logs("notifications")[-3000:])
    assert done["sent"] == done["recipients"] == N and done["failed"] == 0 and done["queued"] == 0, done
    time.sleep(1.5)  # any duplicate would arrive now
    got = our_mails(mail_dir, tag)
    per_person: dict[str, set] = {}
    for m in got:
        per_person.setdefault(str(m["To"]), set()).add(str(m["Message-ID"]))
    assert len(per_person) == N and all(len(ids) == 1 for ids in per_person.values())
    assert len(got) == N, f"{len(got) - N} raw duplicates"

    completed = []
    with Connection(env.amqp_uri) as conn:
        def drain():
            while (msg := tap.bind(conn.channel()).get(accept=["json"])) is not None:
                completed.append(msg.payload)
                msg.ack()
            return [e for e in completed if e["data"]["consultation_id"] == cid]
        mine = eventually(drain, seconds=30)
    assert mine and mine[0]["data"]["sent"] == N, completed
    print(f"broker restart: {sent_at_stop} of {N} e-mails sent when the node stopped; all {N} once each")
