"""The register query of R-1.10/R-3.4: every interested person for one category, in keyset batches
over RPC, on 100,000 persons; beside the same keyset SQL run straight on the database (no bus).

    python bench/register.py [--persons 100000] [--batch 1000] [--category 3]

Starts an isolated registry (own vhost and database) and removes it afterwards.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import machine  # noqa: E402

SEED_SQL = """
INSERT INTO persons (id, subject, full_name, birth_date, community_member, email, interests,
                     email_enabled, consent_version, consented_at, consent_withdrawn_at)
SELECT gen_random_uuid(), 'bench-' || g, 'Мешканець ' || g, DATE '1980-01-01' + (g % 9000),
       true, 'person' || g || '@example.org',
       CASE WHEN g % 4 = 0 THEN '{}'::smallint[]
            ELSE ARRAY[(g % 22) + 1, ((g * 7) % 22) + 1]::smallint[] END,
       g % 10 <> 0, '2026-11', now(), CASE WHEN g % 50 = 0 THEN now() END
FROM generate_series(1, %(n)s) AS g
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--persons", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--category", type=int, default=3)
    args = ap.parse_args()

    import psycopg
    from nameko.standalone.rpc import ClusterRpcProxy

    import chassis.rpcerrors  # noqa: F401  (typed errors deserialise to their classes)
    from chassis.testing.cluster import Cluster
    from chassis.testing.infra import discover
    from chassis.testing.world import destroy_world, make_world, migrate

    infra = discover()
    world = make_world(infra, LOG_LEVEL="WARNING")
    cluster = None
    try:
        migrate(world)
        dsn = f"{world.database_url}/{world.db_prefix}registry"
        with psycopg.connect(dsn, autocommit=True) as conn:
            started = time.perf_counter()
            conn.execute(SEED_SQL.replace("%(n)s", str(int(args.persons))))
            conn.execute("ANALYZE persons")
            seeded = time.perf_counter() - started
        cluster = Cluster(world.vars, Path("var/bench-logs") / world.run_id, world.base_url)
        cluster.start("registry")

        # baseline: the same keyset query straight on PostgreSQL (psycopg, no bus, no pydantic)
        sql = ("SELECT id, full_name, email FROM persons WHERE email IS NOT NULL AND email_enabled "
               "AND consent_version IS NOT NULL AND consent_withdrawn_at IS NULL "
               "AND (cardinality(interests) = 0 OR interests @> ARRAY[%s]::smallint[]) "
               "AND id > %s ORDER BY id LIMIT %s")
        with psycopg.connect(dsn) as conn:
            started, total, after = time.perf_counter(), 0, "00000000-0000-0000-0000-000000000000"
            while True:
                rows = conn.execute(sql, (args.category, after, args.batch)).fetchall()
                total += len(rows)
                if len(rows) < args.batch:
                    break
                after = rows[-1][0]
            direct = time.perf_counter() - started

        with ClusterRpcProxy({"AMQP_URI": world.amqp_uri}, timeout=30) as rpc:
            cluster.wait_rpc(rpc, "registry")
            started, via_rpc, after, batches = time.perf_counter(), 0, None, 0
            while True:
                page = rpc.registry.interested_persons(args.category, after, args.batch)
                via_rpc += len(page["items"])
                batches += 1
                after = page["next_after"]
                if not after:
                    break
            rpc_seconds = time.perf_counter() - started
        assert via_rpc == total, (via_rpc, total)
        print(f"# bench/register.py on {machine()}")
        print(f"persons in the register: {args.persons:,} (seeded in {seeded:.1f} s); category {args.category}; "
              f"batch {args.batch}")
        print(f"{'case':<40} {'persons':>8} {'seconds':>8} {'persons/s':>10}  ratio")
        print(f"{'SQL keyset, psycopg, no bus (baseline)':<40} {total:>8} {direct:>8.2f} {total / direct:>10.0f}      -")
        print(f"{'registry.interested_persons over RPC':<40} {via_rpc:>8} {rpc_seconds:>8.2f} "
              f"{via_rpc / rpc_seconds:>10.0f}  {direct / rpc_seconds:5.3f}")
        print(f"batches: {batches}, {rpc_seconds / batches * 1000:.1f} ms per batch over RPC")
    finally:
        if cluster:
            cluster.stop_all()
        destroy_world(infra, world)
        infra.stop()


if __name__ == "__main__":
    main()
