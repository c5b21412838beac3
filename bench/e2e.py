"""End-to-end benchmark: one command, one table.

Three user actions through the whole system — comment submission, a consultation page read with
its first page of comments (two requests, one figure), a survey response — at a fixed concurrency,
each beside a plain Flask + SQLAlchemy app (``bench/baseline_app.py``, ``/domain/…``) that issues
the service handlers' statements by hand on the same database (outbox rows included; no bus, no
registry), under the same gunicorn settings, in the same run; the ratio; ``/healthz`` (no RPC) as the ceiling; and the SQL
statements per request, counted by every service (``SQL_COUNT=1``, reported by ``health``).

    python bench/e2e.py [--requests 400] [--concurrency 8] [--comments 1000]
"""
from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import HEADER, drive, hammer, machine, stop_process  # noqa: E402
from consultations import SEED as SEED_COMMENTS  # noqa: E402

from chassis.settings import SERVICES  # noqa: E402

SURVEY = {"form": "survey", "title": "Опитування щодо парку", "category": 15,
          "question": "Що змінити в парку наступного року?",
          "questions": [{"text": "Що облаштувати насамперед?", "kind": "single",
                         "options": ["Освітлення", "Лавки", "Туалети"]},
                        {"text": "Коли ви відвідуєте парк?", "kind": "multiple", "options": ["Ранок", "День", "Вечір"]}]}


def sql_statements(rpc) -> dict[str, int]:
    return {s: getattr(rpc, s).health()["sql_statements"] for s in SERVICES}


def per_request(before: dict, after: dict, requests: int) -> str:
    """Statements per request by service (minus the 2 of each ``health`` call that read them)."""
    parts = [f"{s[:5]} {(after[s] - before[s] - 2) / requests:.1f}" for s in SERVICES
             if after[s] - before[s] - 2 > 0]
    return ", ".join(parts) or "0"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--comments", type=int, default=1000)
    ap.add_argument("--authors", type=int, default=50, help="distinct residents writing (each side the same "
                    "number), so no author piles up hundreds of comments for the duplicate check to read")
    args = ap.parse_args()

    import psycopg
    import requests
    from nameko.standalone.rpc import ClusterRpcProxy

    from chassis.workdays import local_today
    from common import NOTICE
    from chassis.testing.api import dev_login
    from chassis.testing.cluster import Cluster
    from chassis.testing.infra import discover
    from chassis.testing.world import destroy_world, free_port, make_world, start_system

    infra = discover()
    world = make_world(infra, LOG_LEVEL="WARNING", SQL_COUNT="1")
    cluster = start_system(world)
    baseline = None
    try:
        base, api = world.base_url, world.base_url + "/api/v1"
        terms = {"notice": NOTICE, "starts_on": local_today().isoformat(),
                 "ends_on": (local_today() + timedelta(days=20)).isoformat()}
        official = dev_login(base, ["official"], unit="Управління транспорту")
        proposal = {"form": "proposal", "title": "Розклад автобусів", "category": 17,
                    "question": "Як змінити розклад автобусів у вечірній час?",
                    "alternatives": [{"text": "Додати рейси"}, {"text": "Залишити як є"}], **terms}
        cid = official.post("/api/v1/consultations", json=proposal).json()["id"]
        assert official.post(f"/api/v1/consultations/{cid}/publish").json()["status"] == "active"
        survey = official.post("/api/v1/consultations", json={**SURVEY, **terms}).json()
        sid = survey["id"]
        survey = official.post(f"/api/v1/consultations/{sid}/publish").json()
        q1, q2 = survey["questions"]
        answer = {"answers": [{"question_id": q1["id"], "option_ids": [q1["options"][0]["id"]]},
                              {"question_id": q2["id"], "option_ids": [q2["options"][2]["id"]]}]}
        dsn = f"{world.database_url}/{world.db_prefix}consultations"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(SEED_COMMENTS.replace("%(cid)s", f"'{cid}'").replace("%(n)s", str(args.comments)))
            conn.execute("ANALYZE comments")
        authors = [dev_login(base, full_name=f"Активний Мешканець {k:03d}") for k in range(args.authors)]
        auths = [a.headers() for a in authors]
        principal = requests.get(api + "/me", headers=auths[0], timeout=10).json()

        with ClusterRpcProxy({"AMQP_URI": world.amqp_uri}, timeout=10) as rpc:
            principals = [rpc.registry.resolve_session(_session_id(a.token)) for a in authors]
        port = free_port()
        env = {**world.vars, "GATEWAY_PORT": str(port), "GATEWAY_HOST": "127.0.0.1",
               "PROMETHEUS_MULTIPROC_DIR": str(ROOT / "var" / "bench-metrics" / world.run_id),
               "BASELINE_DATABASE_URL": f"postgresql+psycopg://{dsn.split('://', 1)[1]}",
               "BASELINE_PRINCIPALS": json.dumps(principals)}
        baseline = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "gateway/gunicorn.conf.py",
                                     "bench.baseline_app:app"], cwd=ROOT, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        plain = f"http://127.0.0.1:{port}/domain"
        Cluster(env, ROOT / "var" / "bench-logs", f"http://127.0.0.1:{port}").wait_ready(
            30, path=f"/domain/consultations/{cid}/page")
        assert principal["id"] == principals[0]["person_id"]

        numbers = itertools.count(1)  # warm-up included: every comment gets its own number

        def comment(root, headers_for):
            # a new text each time (the same author repeating a comment is refused, 409 duplicate_comment),
            # and the authors in turn, on both sides
            return lambda s, i: s.post(f"{root}/consultations/{cid}/comments", json={
                "body": f"Прошу додати рейс о 22:00 до мікрорайону Хмільники (№ {next(numbers)})."},
                headers=headers_for(i), timeout=30).status_code == 201

        def plain_author(i):
            return {"X-Bench-Author": str(i % len(principals))}

        def gateway_author(i):
            return auths[i % len(auths)]

        def gateway_page(s, i):
            return (s.get(f"{api}/consultations/{cid}", timeout=30).ok
                    and s.get(f"{api}/consultations/{cid}/comments", timeout=30).ok)

        tags = {}

        def gateway_page_revalidated(s, i):  # a client that keeps the ETags it was given
            ok = True
            for url in (f"{api}/consultations/{cid}", f"{api}/consultations/{cid}/comments"):
                r = s.get(url, headers={"If-None-Match": tags.get(url, "")}, timeout=30)
                tags.setdefault(url, r.headers.get("ETag", ""))
                ok = ok and r.status_code in (200, 304)
            return ok

        def plain_page(s, i):
            return s.get(f"{plain}/consultations/{cid}/page", timeout=30).ok

        def respond(root, headers_for):
            return lambda s, i: s.post(f"{root}/consultations/{sid}/responses", json=answer,
                                       headers=headers_for(i), timeout=30).status_code == 200

        cases = [("POST comment", comment(plain, plain_author), comment(api, gateway_author)),
                 ("page + first page of comments", plain_page, gateway_page),
                 ("same, revalidated (ETag, 304)", plain_page, gateway_page_revalidated),
                 ("POST survey response", respond(plain, plain_author), respond(api, gateway_author))]
        n, c = args.requests, args.concurrency
        rows = []
        with ClusterRpcProxy({"AMQP_URI": world.amqp_uri}, timeout=10) as rpc:
            for label, plain_op, gateway_op in cases:
                drive("warm", plain_op, 30, c)
                drive("warm", gateway_op, 30, c)
                b = drive(f"plain Flask+SQLAlchemy: {label}", plain_op, n, c)
                before = sql_statements(rpc)
                g = drive(f"gateway: {label}", gateway_op, n, c)
                rows.append((b, None, ""))
                rows.append((g, b, per_request(before, sql_statements(rpc), n)))
        ceiling = hammer("gateway: GET /healthz (no RPC)", base + "/healthz", n, c)
        rows.append((ceiling, None, ""))
        print(f"# bench/e2e.py on {machine()}; concurrency {c}, {n} requests per case, "
              f"{args.comments} published comments, {args.authors} authors on each side; both apps gunicorn gthread 2 workers x 8 threads")
        print(HEADER + "  SQL statements per request (services)")
        for fig, ref, sql in rows:
            print(fig.row(ref) + (f"  {sql}" if sql else ""))
    finally:
        if baseline:
            stop_process(baseline)
        cluster.stop_all()
        destroy_world(infra, world)
        infra.stop()


def _session_id(token: str) -> str:
    from itsdangerous import URLSafeTimedSerializer

    from chassis.settings import Settings

    return URLSafeTimedSerializer(Settings().secret_key, salt="econsult-session").loads(token)["sid"]


if __name__ == "__main__":
    main()
