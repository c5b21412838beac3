"""Webhooks end to end: the real notifications process on the real bus and database POSTs to a
receiver on loopback that verifies each request from the Standard Webhooks spec (not with our
signer), and the drills of docs/webhooks.md, scored like tests/drills (lost, duplicated)."""
from __future__ import annotations

import time
import uuid
from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from chassis.bus import ConfirmingPublisher, event_exchange
from chassis.events import make_envelope
from contracts.consultations import ConsultationClosed, DecisionPublished
from tests.support.cluster import ROOT, Cluster
from tests.support.drills import score, wait_for
from tests.support.webhook_receiver import Receiver
from tests.support.world import free_port, migrate

SETTINGS = dict(WEBHOOK_ALLOW_LOOPBACK=1, WEBHOOK_RETRY_BASE_SECONDS=0.5, WEBHOOK_RETRY_CAP_SECONDS=2,
                WEBHOOK_RETRY_WINDOW_SECONDS=60, WEBHOOK_STUCK_SECONDS=4, WEBHOOK_TIMEOUT=14, WEBHOOK_CONNECT_TIMEOUT=1,
                WEBHOOK_POLL_SECONDS=0.2)


class World:
    def __init__(self, env, cluster: Cluster, receiver: Receiver):
        self.env, self.cluster, self.receiver = env, cluster, receiver
        self.publisher = ConfirmingPublisher(env.amqp_uri)

    def rpc(self, method: str, *args):
        with ClusterRpcProxy({"AMQP_URI": self.env.amqp_uri}, timeout=15) as proxy:
            return getattr(proxy.notifications, method)(*args)

    def restart_notifications(self, **extra) -> None:
        self.cluster.stop("notifications")
        self.cluster.start("notifications", env={k: str(v) for k, v in {**SETTINGS, **extra}.items()})
        with ClusterRpcProxy({"AMQP_URI": self.env.amqp_uri}, timeout=10) as proxy:
            self.cluster.wait_rpc(proxy, "notifications", timeout=90)  # a shared machine can be slow to start it

    def subscribe(self, path: str, types=("decision_published", "consultation_closed")) -> dict:
        sub = self.rpc("webhook_create", str(uuid.uuid4()), {
            "url": self.receiver.url(path), "event_types": list(types), "description": "тест",
            "owner_contact": "ops@partner.example"})
        self.receiver.secrets[path] = [sub["secret"]]
        return sub

    def publish(self, n: int = 1, kind: str = "decision_published") -> list[str]:
        ids = []
        for i in range(n):
            cid = uuid.uuid4()
            if kind == "decision_published":
                data = DecisionPublished(consultation_id=cid, number=f"№ {i}", adopted_on=date(2026, 11, 30),
                                         title="Рішення про сквер", url=f"https://rada.example/{cid}", on_time=True)
            else:
                now = datetime.now(timezone.utc)
                data = ConsultationClosed(consultation_id=cid, closed_at=now, report_due=now + timedelta(days=15))
            env = make_envelope(data).model_dump(mode="json")
            self.publisher.publish(env, exchange=event_exchange("consultations"), routing_key=kind)
            ids.append(env["event_id"])
        return ids

    def db(self):
        return psycopg.connect(f"{self.env.database_url}/{self.env.db_prefix}notifications", autocommit=True)

    def statuses(self, sub_id: str) -> dict[str, int]:
        with self.db() as conn:
            return dict(conn.execute("SELECT status, count(*) FROM webhook_deliveries WHERE subscription_id = %s "
                                     "GROUP BY status", (sub_id,)).fetchall())

    def settled(self, sub_id: str, n: int) -> bool:
        s = self.statuses(sub_id)
        return sum(s.values()) == n and not s.get("pending") and not s.get("sending")


@pytest.fixture(scope="module")
def world(make_env):
    env = make_env(**SETTINGS)
    migrate(env)
    receiver = Receiver(free_port()).start()
    cluster = Cluster(env.vars, ROOT / "var" / "test-logs" / env.run_id, "")
    cluster.start("registry")
    w = World(env, cluster, receiver)
    w.restart_notifications()
    yield w
    cluster.stop_all()
    receiver.stop()


def test_signed_cloudevents_reach_a_verifying_receiver_once_each(world):
    sub = world.subscribe("/plain")
    assert "secret" not in world.rpc("webhook_get", sub["id"]), "GET never shows the secret"
    assert all("secret" not in s for s in world.rpc("webhook_list")["items"])
    want = set(world.publish(5)) | set(world.publish(2, "consultation_closed"))
    assert wait_for(lambda: world.settled(sub["id"], 7), 30), world.statuses(sub["id"])
    time.sleep(0.5)
    s = score("webhooks plain", want, world.receiver.ids("/plain"))
    assert (s.lost, s.duplicated, s.unexpected) == (0, 0, 0)
    assert not world.receiver.rejected, world.receiver.rejected
    types = {b["type"] for b in world.receiver.bodies["/plain"]}
    assert types == {"ua.econsult.decision_published.v1", "ua.econsult.consultation_closed.v1"}
    log = world.rpc("webhook_deliveries", sub["id"])["items"]
    assert len(log) == 7 and all(d["attempt_log"][0]["status_code"] == 200 for d in log)
    assert all(d["attempt_log"][0]["latency_ms"] >= 0 for d in log)


def test_500_then_200_is_retried_with_the_same_webhook_id_and_logged_without_secrets(world):
    sub = world.subscribe("/flaky")
    world.receiver.script["/flaky"] = [(500, 0.0), (503, 0.0)]
    want = set(world.publish(1))
    assert wait_for(lambda: world.settled(sub["id"], 1), 30), world.statuses(sub["id"])
    s = score("webhooks 500, 503, then 200", want, world.receiver.ids("/flaky"))
    assert (s.lost, s.duplicated, s.unexpected) == (0, 0, 0)
    assert world.receiver.requests["/flaky"] == 3
    [delivery] = world.rpc("webhook_deliveries", sub["id"])["items"]
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 503, 200]
    excerpts = " ".join(a["response_excerpt"] or "" for a in delivery["attempt_log"])
    assert "nope 500" in excerpts and "v1," not in excerpts and sub["secret"][6:] not in excerpts, excerpts


def test_rotation_keeps_the_old_secret_valid_for_the_grace_period(world):
    sub = world.subscribe("/rotating")
    rotated = world.rpc("webhook_rotate_secret", sub["id"])
    assert rotated["secret"] != sub["secret"] and rotated["previous_secret_until"]
    world.receiver.secrets["/rotating"] = [sub["secret"]]  # a partner who has not switched yet
    want = set(world.publish(1))
    assert wait_for(lambda: world.settled(sub["id"], 1), 30)
    world.receiver.secrets["/rotating"] = [rotated["secret"]]  # … and one who has
    want |= set(world.publish(1))
    assert wait_for(lambda: world.settled(sub["id"], 2), 30)
    s = score("webhooks across a rotation", want, world.receiver.ids("/rotating"))
    assert (s.lost, s.duplicated) == (0, 0) and not world.receiver.rejected


def test_410_gone_disables_the_subscription(world):
    sub = world.subscribe("/gone")
    world.receiver.always["/gone"] = (410, 0.0)
    world.publish(1)
    assert wait_for(lambda: world.rpc("webhook_get", sub["id"])["status"] == "disabled", 30)
    assert world.receiver.requests["/gone"] == 1
    world.publish(2)
    time.sleep(1.5)
    assert world.receiver.requests["/gone"] == 1, "a disabled subscription gets nothing more"


def test_resend_and_replay_use_the_same_webhook_id(world):
    sub = world.subscribe("/replay")
    since = datetime.now(timezone.utc) - timedelta(seconds=1)
    want = set(world.publish(3))
    assert wait_for(lambda: world.settled(sub["id"], 3), 30)
    one = world.rpc("webhook_deliveries", sub["id"])["items"][0]
    assert world.rpc("webhook_resend", sub["id"], one["id"]) == {"queued": 1}
    assert wait_for(lambda: len(world.receiver.ids("/replay")) == 4, 30)
    assert world.rpc("webhook_replay", sub["id"], {"since": since.isoformat(),
                                                   "until": datetime.now(timezone.utc).isoformat()}) == {"queued": 3}
    assert wait_for(lambda: len(world.receiver.ids("/replay")) == 7, 30)
    got = world.receiver.ids("/replay")
    assert set(got) == want and got.count(one["event_id"]) == 3


def test_registration_refuses_addresses_a_receiver_may_not_have(world):
    from chassis.errors import InvalidInput

    for url in ("http://10.0.0.5/hook", "http://169.254.169.254/latest", "http://[::ffff:192.168.1.1]/x",
                "ftp://127.0.0.1/x", "http://user:pw@127.0.0.1/x", "http://no-such-host.invalid/x"):
        with pytest.raises(InvalidInput) as err:
            world.rpc("webhook_create", str(uuid.uuid4()), {"url": url, "event_types": ["decision_published"],
                                                           "owner_contact": "ops@partner.example"})
        assert err.value.errors[0]["field"] == "url", url


# ---- drills: every event delivered, lost = 0, duplicates only with the same webhook-id -------------

def test_drill_receiver_down_for_a_while(world):
    """"A minute" down, shortened by settings: the receiver's port refuses for 4 s, then answers."""
    down = Receiver(free_port())
    path = "/down"
    world.receiver.secrets[path] = []
    sub = world.rpc("webhook_create", str(uuid.uuid4()), {
        "url": down.url(path), "event_types": ["decision_published"], "owner_contact": "ops@partner.example"})
    down.secrets[path] = [sub["secret"]]
    want = set(world.publish(20))
    time.sleep(4)
    assert world.statuses(sub["id"]).get("delivered", 0) == 0
    down.start()
    try:
        assert wait_for(lambda: world.settled(sub["id"], 20), 40), world.statuses(sub["id"])
        s = score("webhooks: receiver down 4 s", want, down.ids(path))
        assert (s.lost, s.duplicated, s.unexpected) == (0, 0, 0)
    finally:
        down.stop()


def test_drill_slow_receiver_10_s_does_not_hold_the_others(world):
    slow = world.subscribe("/slow")
    fast = world.subscribe("/fast")
    world.receiver.always["/slow"] = (200, 10.0)
    started = time.monotonic()
    want = set(world.publish(10))
    assert wait_for(lambda: world.settled(fast["id"], 10), 8), world.statuses(fast["id"])
    fast_done = time.monotonic() - started
    assert wait_for(lambda: world.settled(slow["id"], 10), 60), world.statuses(slow["id"])
    world.receiver.always.pop("/slow")
    for path in ("/slow", "/fast"):
        s = score(f"webhooks: {path} beside a 10 s receiver", want, world.receiver.ids(path))
        assert (s.lost, s.duplicated, s.unexpected) == (0, 0, 0)
    print(f"  the fast subscription had all 10 in {fast_done:.1f} s")
    assert fast_done < 5


@pytest.mark.drill  # a fault drill: `make drills` runs it, `make test` leaves it out
def test_drill_notifications_killed_mid_delivery(world):
    """SIGKILL after the receiver's 2xx and before it is recorded: that one event arrives again,
    with the same webhook-id; nothing is lost."""
    sub = world.subscribe("/killed")
    world.restart_notifications(FAULT_POINT="notifications.webhook_after_response", FAULT_SKIP=3)
    proc = world.cluster.procs["notifications"]
    want = set(world.publish(12))
    assert wait_for(lambda: proc.poll() is not None, 30), "the fault point was never reached"
    assert proc.returncode == -9
    world.restart_notifications()
    assert wait_for(lambda: world.settled(sub["id"], 12), 40), world.statuses(sub["id"])
    time.sleep(0.5)
    got = world.receiver.ids("/killed")
    s = score("webhooks: notifications killed after a 2xx", want, got)
    # the delivery the kill interrupted is sent again; it is this subscription's only when the fault
    # point fell on one of its deliveries (other tests' subscriptions in this world retry beside it),
    # so a duplicate here is expected often, not always
    assert s.lost == 0 and s.unexpected == 0
    assert set(got) == want, "a duplicate carries an id that was sent before (same webhook-id)"


def test_a_delivery_failing_past_the_window_marks_the_subscription_failing_and_tells_its_owner(world):
    """The retry window (a day in production) shortened to 2 s; the owner hears by e-mail, once."""
    from tests.support.drills import DrillSmtp

    smtp = DrillSmtp(int(world.env.vars["SMTP_PORT"])).start()
    try:
        world.restart_notifications(WEBHOOK_RETRY_WINDOW_SECONDS=2)
        sub = world.rpc("webhook_create", str(uuid.uuid4()), {
            "url": world.receiver.url("/failing"), "event_types": ["decision_published"],
            "owner_contact": "owner@failing.example"})
        world.receiver.secrets["/failing"] = [sub["secret"]]
        world.receiver.always["/failing"] = (500, 0.0)
        world.publish(2)
        assert wait_for(lambda: world.rpc("webhook_get", sub["id"])["status"] == "failing", 30)
        assert wait_for(lambda: world.statuses(sub["id"]) == {"failed": 2}, 30), world.statuses(sub["id"])
        assert wait_for(lambda: smtp.to("@failing.example"), 10)
        time.sleep(1)
        assert smtp.to("@failing.example") == ["owner@failing.example"], "told once, when it turned failing"
        world.receiver.always.pop("/failing")
        world.publish(1)
        assert wait_for(lambda: world.rpc("webhook_get", sub["id"])["status"] == "active", 30), \
            "the first success makes it active again"
    finally:
        smtp.stop()
        world.restart_notifications()


def test_a_subscription_and_the_feed_pick_a_version_while_two_are_published(world, monkeypatch):
    """docs/events.md, "A new version": a test-only version 2 of decision_published, public with its
    own fields, stored beside version 1 of the same fact (as the feed handler stores what the outbox
    sent in both versions). A subscription naming `decision_published` gets only v1 and one naming
    `decision_published.v2` only v2, each through the real sender; the feed gives both unless asked."""
    from chassis.db import Db, make_engine
    from services.notifications.webhook_store import WebhookStore
    from contracts import public_events

    monkeypatch.setitem(public_events.LATER_VERSIONS, ("consultations", "decision_published", 2),
                        ("consultation_id", "title", "decided_on"))
    cid = uuid.uuid4()
    v1 = make_envelope(DecisionPublished(consultation_id=cid, number="№ 2", adopted_on=date(2026, 11, 30),
                                         title="Рішення", url=f"https://rada.example/{cid}", on_time=True))
    v2 = v1.model_copy(update={"event_id": uuid.uuid4(), "version": 2, "data": {
        "consultation_id": str(cid), "title": "Рішення", "decided_on": "2026-11-30", "author_id": str(uuid.uuid4())}})
    engine = make_engine("notifications", world.env.settings())
    db = Db(engine)
    with db.transaction() as session:
        store, subs = WebhookStore(session), {}
        for path, types in (("/v1", ["decision_published"]), ("/v2", ["decision_published.v2"])):
            sub, secret = store.create_subscription(world.receiver.url(path), types, "", "ops@partner.example", None)
            subs[path] = sub["id"]
            world.receiver.secrets[path] = [secret]
        rows = [public_events.from_envelope("consultations", e) for e in (v1, v2)]
        assert rows[1]["data"] == {"consultation_id": str(cid), "title": "Рішення", "decided_on": "2026-11-30"}
        store.record_public_events(rows)
    assert wait_for(lambda: world.settled(str(subs["/v1"]), 1) and world.settled(str(subs["/v2"]), 1), 30)
    got = {p: [(b["id"], b["type"]) for b in world.receiver.bodies[p]] for p in ("/v1", "/v2")}
    assert got == {"/v1": [(str(v1.event_id), "ua.econsult.decision_published.v1")],
                   "/v2": [(str(v2.event_id), "ua.econsult.decision_published.v2")]}
    assert not world.receiver.rejected
    with db.transaction() as session:
        store = WebhookStore(session)
        both, _ = store.feed(0, [], 1000)
        only_v2, _ = store.feed(0, ["decision_published.v2"], 1000)
        only_v1, _ = store.feed(0, ["decision_published"], 1000)
        for sub_id in subs.values():
            store.disable(sub_id, "test over")
    mine = {str(v1.event_id), str(v2.event_id)}
    assert {e["id"] for e in both} >= mine
    assert [e["type"] for e in only_v2] == ["ua.econsult.decision_published.v2"]
    assert str(v2.event_id) not in {e["id"] for e in only_v1} and str(v1.event_id) in {e["id"] for e in only_v1}
    engine.dispose()


def test_no_redirect_is_followed_answers_are_capped_and_every_delivery_checks_the_address_again(world):
    """A 302 is a failed attempt (its Location never called), a 1 MB answer is read only up to
    WEBHOOK_RESPONSE_CAP and logged as 500 characters; then, with the receiver's range blocked
    (WEBHOOK_BLOCKED_CIDRS), the subscription registered before is refused at delivery, after
    resolving, and nothing reaches the receiver."""
    moved, big = world.subscribe("/moved"), world.subscribe("/big")
    world.receiver.always["/moved"] = (302, 0.0)
    world.receiver.replies["/moved"] = ({"Location": world.receiver.url("/target")}, b"moved")
    world.receiver.replies["/big"] = ({}, b"A" * 1_000_000)
    world.publish(1)

    def first_attempt(sub_id: str):
        items = world.rpc("webhook_deliveries", sub_id)["items"]
        return items[0]["attempt_log"][0] if items and items[0]["attempt_log"] else None

    assert wait_for(lambda: first_attempt(moved["id"]) is not None and world.settled(big["id"], 1), 30)
    assert first_attempt(moved["id"])["status_code"] == 302
    assert world.statuses(moved["id"]).get("delivered") is None and world.receiver.requests["/target"] == 0
    capped = first_attempt(big["id"])
    assert capped["status_code"] == 200 and capped["response_excerpt"] == "A" * 500
    world.rpc("webhook_disable", moved["id"])
    world.rpc("webhook_disable", big["id"])

    late = world.subscribe("/late")
    world.restart_notifications(WEBHOOK_BLOCKED_CIDRS="127.0.0.0/8")
    try:
        world.publish(1)
        assert wait_for(lambda: first_attempt(late["id"]) is not None, 30)
        attempt = first_attempt(late["id"])
        assert attempt["status_code"] is None and "127.0.0.1 is in the blocked range 127.0.0.0/8" in attempt["error"]
        assert world.receiver.requests["/late"] == 0
    finally:
        world.rpc("webhook_disable", late["id"])
        world.restart_notifications()


def test_a_delivery_still_pending_past_the_window_fails_even_if_never_tried_again(world):
    """The minute sweep (docs/webhooks.md): a delivery whose subscription was paused, so never tried
    again, fails once the retry window is over, and its subscription is marked failing."""
    from chassis.db import Db, make_engine
    from services.notifications.webhook_store import WebhookStore

    sub = world.subscribe("/paused")
    world.publish(1)
    assert wait_for(lambda: world.settled(sub["id"], 1), 30)
    with world.db() as conn:  # as if it had waited out a pause since long before the window
        conn.execute("UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now() + interval '1 day', "
                     "created_at = now() - interval '61 seconds' WHERE subscription_id = %s", (sub["id"],))
    engine = make_engine("notifications", world.env.settings())
    with Db(engine).transaction() as session:
        flipped = WebhookStore(session).expire(60)
    engine.dispose()
    assert flipped in ([(uuid.UUID(sub["id"]), "ops@partner.example")], [])  # [] if the service's own sweep was first
    assert world.statuses(sub["id"]) == {"failed": 1}
    got = world.rpc("webhook_get", sub["id"])
    assert got["status"] == "failing" and "within 60" in got["status_reason"]
    world.rpc("webhook_disable", sub["id"])
