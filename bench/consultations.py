"""Consultations through the gateway beside a plain Flask + SQLAlchemy app doing the same database
work with no bus (same gunicorn settings, same run):

* comment submission (POST …/comments), 8 concurrent;
* a consultation with 10,000 published comments: its page and the first page of its comments,
  sequential (the target: p99 under 50 ms through the gateway).

    python bench/consultations.py [--comments 10000] [--requests 1000]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import HEADER, hammer, machine, stop_process  # noqa: E402

SEED = """
INSERT INTO comments (id, consultation_id, author_id, author_name, body, status, created_at)
SELECT gen_random_uuid(), %(cid)s, gen_random_uuid(), 'Учасник ' || g,
       'Пропозиція номер ' || g || ': облаштувати зупинку та додати рейс у вечірній час.',
       'published', now() - (g || ' seconds')::interval
FROM generate_series(1, %(n)s) AS g
"""


def seeded_consultation(world, comments: int) -> tuple[str, str]:
    """An active consultation of an official of the transport unit, with ``comments`` published
    comments written straight into its database: (consultation id, the database's DSN)."""
    import psycopg

    from chassis.testing.api import dev_login
    from chassis.workdays import local_today
    from common import NOTICE

    official = dev_login(world.base_url, ["official"], unit="Управління транспорту")
    body = {"form": "proposal", "title": "Розклад автобусів", "category": 17, "notice": NOTICE,
            "question": "Як змінити розклад автобусів у вечірній час?",
            "alternatives": [{"text": "Додати рейси"}, {"text": "Залишити як є"}],
            "starts_on": local_today().isoformat(), "ends_on": (local_today() + timedelta(days=20)).isoformat()}
    cid = official.post("/api/v1/consultations", json=body).json()["id"]
    official.post(f"/api/v1/consultations/{cid}/publish")
    dsn = f"{world.database_url}/{world.db_prefix}consultations"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SEED.replace("%(cid)s", f"'{cid}'").replace("%(n)s", str(comments)))
        conn.execute("ANALYZE comments")
    return cid, dsn


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--comments", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=1000)
    args = ap.parse_args()

    from chassis.testing.api import dev_login
    from chassis.testing.cluster import Cluster
    from chassis.testing.infra import discover
    from chassis.testing.world import destroy_world, free_port, make_world, start_system

    infra = discover()
    world = make_world(infra, LOG_LEVEL="WARNING")
    cluster = start_system(world)
    baseline = None
    try:
        base = world.base_url
        cid, dsn = seeded_consultation(world, args.comments)

        port = free_port()
        env = {**world.vars, "GATEWAY_PORT": str(port), "GATEWAY_HOST": "127.0.0.1",
               "PROMETHEUS_MULTIPROC_DIR": str(ROOT / "var" / "bench-metrics" / world.run_id),
               "BASELINE_DATABASE_URL": f"postgresql+psycopg://{dsn.split('://', 1)[1]}"}
        baseline = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "gateway/gunicorn.conf.py",
                                     "bench.baseline_app:app"], cwd=ROOT, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        plain = f"http://127.0.0.1:{port}"
        Cluster(env, ROOT / "var" / "bench-logs", plain).wait_ready(30, path="/consultations/" + cid)

        # 50 residents in turn, a new text each request: one author repeating one text is refused
        # (409 duplicate_comment), which would measure the refusal, not the write
        auths = [dev_login(base, full_name=f"Активний Мешканець {k:03d}").headers() for k in range(50)]

        def text(i):
            return {"body": f"Прошу додати рейс о 22:00 до мікрорайону Хмільники (пропозиція {i})."}
        rows = []
        for label, url in (("page", f"/consultations/{cid}"), ("first page of comments", f"/consultations/{cid}/comments")):
            hammer("warm", plain + url, 50, 1)
            hammer("warm", base + "/api/v1" + url, 50, 1)
            b = hammer(f"plain Flask+SQLAlchemy: {label}", plain + url, args.requests, 1)
            g = hammer(f"gateway: {label} ({args.comments} comments)", base + "/api/v1" + url, args.requests, 1)
            rows += [(b, None), (g, b)]
        b = hammer("plain Flask+SQLAlchemy: POST comment x8", plain + f"/consultations/{cid}/comments",
                   args.requests, 8, "POST", text, ok=(201,))
        g = hammer("gateway: POST comment x8", base + f"/api/v1/consultations/{cid}/comments",
                   args.requests, 8, "POST", text, ok=(201,), headers_for=lambda i: auths[i % len(auths)])
        rows += [(b, None), (g, b)]
        ceiling = hammer("gateway: GET /healthz (no RPC), sequential", base + "/healthz", args.requests, 1)
        rows.append((ceiling, None))
        print(f"# bench/consultations.py on {machine()}; both apps: gunicorn gthread 2 workers x 8 threads")
        print(HEADER)
        for fig, ref in rows:
            print(fig.row(ref))
    finally:
        if baseline:
            stop_process(baseline)
        cluster.stop_all()
        destroy_world(infra, world)
        infra.stop()



if __name__ == "__main__":
    main()
