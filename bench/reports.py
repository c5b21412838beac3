"""The R-3.16 report of a consultation with 20,000 published comments (seeded with SQL into the
consultations and registry databases of an isolated world), through the real system:

* snapshot: from the consultation's closing to the report's snapshot (paged RPCs, 1,000 a page);
* consideration of every proposal (bulk, 5,000 ids a call) and the conclusion;
* publishing version 1: every file (HTML, PDF, CSV, JSON, XLSX) rendered from the snapshot in one
  pass and stored; then the full protocol (CSV, PDF, JSON);
* the reports service's peak resident memory (VmHWM of its process) before and after;

beside a baseline measured in the same run: the same five files rendered straight from a list of
20,000 rows in a fresh process, no bus and no database (time and that process's peak RSS).

    python bench/reports.py [--comments 20000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import hammer, machine  # noqa: E402

PERSONS = """
INSERT INTO persons (id, subject, full_name, birth_date, community_member)
SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'bench-' || g,
       'Учасник Звіту ' || g, date '1950-01-01' + (g * 37 % 22000), true
FROM generate_series(1, %(people)s) AS g
"""
COMMENTS = """
INSERT INTO comments (id, consultation_id, author_id, author_name, body, status, created_at, decided_at)
SELECT gen_random_uuid(), %(cid)s, ('00000000-0000-4000-8000-' || lpad((1 + g %% %(people)s)::text, 12, '0'))::uuid,
       'Учасник Звіту ' || (1 + g %% %(people)s),
       'Пропозиція ' || g || ': облаштувати безпечний перехід біля школи та додати освітлення на зупинці.',
       'published', now() - interval '2 days' + (g || ' milliseconds')::interval, now() - interval '1 day'
FROM generate_series(1, %(n)s) AS g
"""


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _baseline_child(n: int, out) -> None:
    import resource

    from services.reports import render

    rows = [{"number": i, "comment_id": f"id-{i}", "author_name": f"Учасник Звіту {i % 5000}",
             "created_at": "2026-11-20T10:00:00+00:00", "target": "загалом",
             "body": f"Пропозиція {i}: облаштувати безпечний перехід біля школи та додати освітлення на зупинці.",
             "outcome": "враховано", "justification": None} for i in range(1, n + 1)]
    doc = render.Document(title="Звіт (базова лінія)", sections=[("Питання", ["Як зробити вулицю безпечнішою?"])],
                          meta={}, columns=[("number", "№"), ("author_name", "Автор"), ("created_at", "Подано"),
                                            ("target", "Щодо"), ("body", "Пропозиція"), ("outcome", "Результат розгляду"),
                                            ("justification", "Обґрунтування"), ("comment_id", "Ідентифікатор")])
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        render.write_all(doc, iter(rows), tmp, "baseline")
    out.send((time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def baseline(n: int) -> tuple[float, float]:
    """The same five files from a plain list in a fresh process (no bus, no database): seconds and
    that process's peak RSS in MiB (the list itself included)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_baseline_child, args=(n, child))
    proc.start()
    result = parent.recv()
    proc.join()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--comments", type=int, default=20_000)
    ap.add_argument("--people", type=int, default=5_000)
    args = ap.parse_args()

    import psycopg

    from chassis.workdays import local_today
    from tests.e2e.test_consultations import FULL_NOTICE
    from tests.e2e.test_outcomes import eventually
    from tests.support.api import dev_login
    from tests.support.infra import discover
    from tests.support.world import destroy_world, make_world, start_system

    infra = discover()
    world = make_world(infra, LOG_LEVEL="WARNING", RPC_TIMEOUT="300")
    cluster = start_system(world)
    try:
        base = world.base_url
        official = dev_login(base, ["official"], unit="Управління безпеки руху")
        body = {"form": "proposal", "title": "Безпечна вулиця", "category": 17, "notice": FULL_NOTICE,
                "question": "Як зробити вулицю Шевченка безпечнішою для дітей?",
                "alternatives": [{"text": "Перехід зі світлофором"}, {"text": "Лежачі поліцейські"}],
                "starts_on": local_today().isoformat(), "ends_on": (local_today() + timedelta(days=20)).isoformat()}
        cid = official.post("/api/v1/consultations", json=body).json()["id"]
        official.post(f"/api/v1/consultations/{cid}/publish")
        people, n = str(args.people), str(args.comments)
        with psycopg.connect(f"{world.database_url}/{world.db_prefix}registry", autocommit=True) as conn:
            conn.execute(PERSONS.replace("%(people)s", people))
        with psycopg.connect(f"{world.database_url}/{world.db_prefix}consultations", autocommit=True) as conn:
            conn.execute(COMMENTS.replace("%(cid)s", f"'{cid}'").replace("%(people)s", people)
                         .replace("%(n)s", n).replace("%%", "%"))
            conn.execute("ANALYZE comments")
        reports_pid = cluster.procs["reports"].pid
        rss_before = vm_hwm_kib(reports_pid)

        started = time.perf_counter()
        with psycopg.connect(f"{world.database_url}/{world.db_prefix}consultations", autocommit=True) as conn:
            conn.execute("UPDATE consultations SET starts_on = %s, ends_on = %s WHERE id = %s",
                         (local_today() - timedelta(days=20), local_today() - timedelta(days=1), cid))
        report = f"/api/v1/consultations/{cid}/report"
        ready = eventually(lambda: official.get(report).status_code == 200, seconds=600)
        snapshot_s = time.perf_counter() - started
        assert ready, "no snapshot"
        assert official.get(report).json()["proposals"] == args.comments

        desk = f"{base}/official/consultations/{cid}/report"  # the web page (issue 9): 50 proposals a page
        last = -(-args.comments // 50)
        desk_figs = [hammer(f"GET desk page {label}", desk + query, 30, 1, headers=official.headers())
                     for label, query in (("1", ""), (f"{last} (last)", f"?page={last}"), ("missing=1", "?missing=1"))]

        started = time.perf_counter()
        page, ids = 1, []
        while True:
            chunk = official.get(report + f"/considerations?per_page=100&page={page}").json()["items"]
            ids += [p["comment_id"] for p in chunk]
            if len(chunk) < 100:
                break
            page += 1
        read_s = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(0, len(ids), 5000):
            r = official.put(report + "/considerations/bulk", json={"comment_ids": ids[i:i + 5000], "outcome": "accepted"})
            assert r.status_code == 200, r.text
        official.put(report + "/conclusion", json={"conclusion": "Пропозиції враховано в проєкті."})
        consider_s = time.perf_counter() - started

        started = time.perf_counter()
        queued = official.post(report + "/publish")
        assert queued.status_code == 202, queued.text
        assert eventually(lambda: official.get(report + "/versions").json()["items"], seconds=900)
        publish_s = time.perf_counter() - started
        sizes = {fmt: f["size"] for fmt, f in official.get(report + "/versions").json()["items"][0]["files"].items()}
        started = time.perf_counter()
        protocol = official.get(f"/api/v1/consultations/{cid}/protocol.pdf")
        protocol_s = time.perf_counter() - started
        assert protocol.status_code == 200
        rss_after = vm_hwm_kib(reports_pid)
        base_s, base_peak = baseline(args.comments)

        print(f"# bench/reports.py on {machine()}; {args.comments} published comments by {args.people} persons")
        print(f"snapshot + protocol files (close → report ready)   {snapshot_s:8.2f} s")
        print(f"read every proposal through the gateway (100/page)  {read_s:8.2f} s")
        print(f"consider all (bulk, 5,000 a call) + conclusion      {consider_s:8.2f} s")
        print(f"publish v1 (202 → version listed): 5 files stored   {publish_s:8.2f} s  "
              f"(ratio to baseline {base_s / publish_s:.2f})")
        print("   sizes: " + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in sorted(sizes.items())))
        print(f"full protocol PDF served (rendered with the snapshot){protocol_s:8.2f} s")
        print(f"reports service peak RSS: {rss_before / 1024:.0f} MiB before, {rss_after / 1024:.0f} MiB after")
        print("web desk page (50 proposals, counter, pager), sequential, the owning official:")
        for fig in desk_figs:
            print("   " + fig.row(None))
        print(f"baseline: the same 5 files from a list in one process {base_s:8.2f} s, "
              f"peak RSS {base_peak:.0f} MiB")
    finally:
        cluster.stop_all()
        destroy_world(infra, world)
        infra.stop()


if __name__ == "__main__":
    main()
