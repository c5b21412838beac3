"""The R-3.16 report of a survey with 100,000 published comments and 500,000 survey answers (10
questions × 50,000 respondents), through a real isolated system (bench/common.isolated_system()):

* close → snapshot (``GET …/report`` answers 200 with every proposal), the read model complete: the
  seeded rows stand for the events consultations published while the consultation ran, so they are
  written into the reports service's read model as well as into consultations' tables;
* close → the protocol's files (CSV, PDF, JSON, full and public) rendered by the timer;
* publish → version 1 listed with all five files (HTML, PDF, CSV, JSON, XLSX) stored;
* the reports service's peak resident memory (VmHWM), before and after;

with the CPU seconds each phase cost per process (``bench/cpu.py``: the machine is shared, so CPU is
the figure to trust), and, in the same run, the baseline: the same consultation once more with an
**empty** read model (what a consultation older than the read model costs: completed from
consultations in pages of 5,000). Everything goes through the running services.

Seeding is bulk SQL into the services' own databases (registry persons, consultations' comments and
answers, the reports read model); considerations are seeded too (not what is measured here).

    python bench/reports.py [--comments 100000] [--respondents 50000] [--questions 10]
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import isolated_system, machine  # noqa: E402
from cpu import CpuSampler  # noqa: E402

NOTICE = {"holder": "Виконавчий комітет Коростенської міської ради", "materials": "Схема парку",
          "stakeholders": "Мешканці району", "consequences": "Новий сквер", "procedure": "Через веб-сервіс",
          "participation": "Оголошення на сайті ради", "responsible_official": "Петренко Іван Іванович",
          "results_publication": "Звіт буде оприлюднено протягом 15 днів після завершення"}
PERSON = "('00000000-0000-4000-8000-' || lpad(({g})::text, 12, '0'))::uuid"
PERSONS = f"""
INSERT INTO persons (id, subject, full_name, birth_date, community_member)
SELECT {PERSON.format(g='g')}, 'bench-' || g, 'Учасник Звіту ' || g, date '1950-01-01' + (g * 37 % 22000), true
FROM generate_series(1, :people) AS g ON CONFLICT DO NOTHING
"""
COMMENTS = f"""
INSERT INTO comments (id, consultation_id, author_id, author_name, body, status, created_at, decided_at)
SELECT md5(:cid || g)::uuid, :cid, {PERSON.format(g='1 + g % :authors')}, 'Учасник Звіту ' || (1 + g % :authors),
       'Пропозиція ' || g || ': облаштувати безпечний перехід біля школи та додати освітлення на зупинці.',
       'published', now() - interval '2 days' + (g || ' milliseconds')::interval, now() - interval '1 day'
FROM generate_series(1, :n) AS g
"""
ANSWERS = f"""
INSERT INTO responses (question_id, person_id, consultation_id, option_ids)
SELECT q.id, {PERSON.format(g='g')}, :cid,
       ARRAY[(SELECT o.id FROM options o WHERE o.question_id = q.id ORDER BY o.position OFFSET g % 3 LIMIT 1)]
FROM questions q, generate_series(1, :people) AS g WHERE q.consultation_id = :cid
"""
FEED = f"""
INSERT INTO feed_comments (consultation_id, comment_id, author_id, author_name, body, created_at, status, rank, decided_at)
SELECT :cid, md5(:cid || g)::uuid, {PERSON.format(g='1 + g % :authors')}, 'Учасник Звіту ' || (1 + g % :authors),
       'Пропозиція ' || g || ': облаштувати безпечний перехід біля школи та додати освітлення на зупинці.',
       now() - interval '2 days' + (g || ' milliseconds')::interval, 'published', 1, now() - interval '1 day'
FROM generate_series(1, :n) AS g
"""
RESPONDENTS = f"INSERT INTO feed_respondents SELECT :cid, {PERSON.format(g='g')} FROM generate_series(1, :people) AS g"
CONSIDER = """
INSERT INTO considerations (consultation_id, comment_id, outcome, decided_by)
SELECT :cid, comment_id, 'accepted', :by FROM snapshot_comments WHERE consultation_id = :cid AND status = 'published'
"""


def vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def eventually(check, seconds: float):
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def today_kyiv() -> date:
    return datetime.now(ZoneInfo("Europe/Kyiv")).date()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--comments", type=int, default=100_000)
    ap.add_argument("--respondents", type=int, default=50_000)
    ap.add_argument("--questions", type=int, default=10)
    ap.add_argument("--authors", type=int, default=20_000)
    args = ap.parse_args()

    import psycopg

    from chassis.testing.api import dev_login

    with isolated_system(RPC_TIMEOUT="300") as (world, cluster):
        base = world.base_url
        official = dev_login(base, ["official"], unit="Управління благоустрою")
        body = {"form": "survey", "title": "Сквер біля школи", "category": 17, "notice": NOTICE,
                "question": "Яким має бути сквер біля школи?",
                "questions": [{"text": f"Питання {i + 1}", "kind": "single", "options": ["Так", "Ні", "Не знаю"]}
                              for i in range(args.questions)],
                "starts_on": today_kyiv().isoformat(), "ends_on": (today_kyiv() + timedelta(days=20)).isoformat()}

        def db(name: str):
            return psycopg.connect(f"{world.database_url}/{world.db_prefix}{name}", autocommit=True)

        def make(with_read_model: bool) -> str:
            created = official.post("/api/v1/consultations", json=body)
            assert created.status_code == 201, created.text
            cid = created.json()["id"]
            assert official.post(f"/api/v1/consultations/{cid}/publish").status_code == 200
            p = {"cid": cid, "n": args.comments, "authors": args.authors, "people": args.respondents}
            with db("consultations") as conn:
                conn.execute(_sql(COMMENTS, p))
                conn.execute(_sql(ANSWERS, p))
                conn.execute("ANALYZE comments")
                conn.execute("ANALYZE responses")
            if with_read_model:
                with db("reports") as conn:
                    conn.execute(_sql(FEED, p))
                    conn.execute(_sql(RESPONDENTS, p))
                    conn.execute("ANALYZE feed_comments")
            return cid

        def close(cid: str) -> tuple[float, float]:
            """Seconds from closing to the snapshot, and to the protocol's files."""
            started = time.perf_counter()
            with db("consultations") as conn:
                conn.execute("UPDATE consultations SET starts_on = %s, ends_on = %s WHERE id = %s",
                             (today_kyiv() - timedelta(days=20), today_kyiv() - timedelta(days=1), cid))
            report = f"/api/v1/consultations/{cid}/report"
            assert eventually(lambda: official.get(report).status_code == 200, 900), "no snapshot"
            snapshot_s = time.perf_counter() - started
            cpu_snapshot = cpu_since()
            got = official.get(report).json()
            assert got["proposals"] == args.comments and got["participants"] == args.respondents, got
            with db("reports") as conn:
                assert eventually(lambda: conn.execute("SELECT protocol ? 'full' FROM snapshots WHERE "
                                                       "consultation_id = %s", (cid,)).fetchone()[0], 900)
            return snapshot_s, time.perf_counter() - started, cpu_snapshot

        admin = psycopg.connect(f"{world.database_url}/postgres", autocommit=True)

        def backends() -> list[int]:
            rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname LIKE %s AND pid <> pg_backend_pid()",
                                 (world.db_prefix + "%",)).fetchall()
            return [r[0] for r in rows]

        sampler = CpuSampler({**{s: (lambda s=s: [cluster.procs[s].pid]) for s in ("reports", "consultations", "registry")},
                              "PostgreSQL backends": backends}).start()

        def cpu_since() -> str:
            return ", ".join(f"{name} {seconds:.1f}" for name, (seconds, _) in sampler.delta().items())

        with db("registry") as conn:
            conn.execute(_sql(PERSONS, {"people": args.respondents}))
        seeding = time.perf_counter()
        cid = make(with_read_model=True)
        seeding = time.perf_counter() - seeding
        pid = cluster.procs["reports"].pid
        rss_before = vm_hwm_mib(pid)
        sampler.mark()
        snapshot_s, protocol_s, cpu_snapshot = close(cid)
        cpu_close = cpu_since()
        rss_snapshot = vm_hwm_mib(pid)

        report = f"/api/v1/consultations/{cid}/report"
        with db("reports") as conn:
            conn.execute(_sql(CONSIDER, {"cid": cid, "by": official.person_id}))
        assert official.put(report + "/conclusion", json={"conclusion": "Пропозиції враховано."}).status_code == 200
        sampler.mark()
        started = time.perf_counter()
        queued = official.post(report + "/publish")
        assert queued.status_code == 202, queued.text
        assert eventually(lambda: official.get(report + "/versions").json()["items"], 900), "no version"
        publish_s = time.perf_counter() - started
        cpu_publish = cpu_since()
        sizes = {fmt: f["size"] for fmt, f in official.get(report + "/versions").json()["items"][0]["files"].items()}
        rss_publish = vm_hwm_mib(pid)

        old = make(with_read_model=False)
        sampler.mark()
        backfill = close(old) + (cpu_since(),)
        rss_end = vm_hwm_mib(pid)
        sampler.stop()
        admin.close()

    print(f"# bench/reports.py on {machine()}")
    print(f"# {args.comments} published comments by {args.authors} persons, {args.respondents * args.questions} "
          f"survey answers ({args.respondents} respondents × {args.questions} questions); seeded in {seeding:.1f} s")
    print(f"close → snapshot (read model complete)               {snapshot_s:8.2f} s   target ≤ 10")
    print(f"   CPU seconds from closing to the snapshot: {cpu_snapshot}")
    print(f"close → protocol files (full + public, timer)        {protocol_s:8.2f} s")
    print(f"   CPU seconds from closing to the protocol files: {cpu_close}")
    print(f"publish → version 1 with all five files stored       {publish_s:8.2f} s   target ≤ 60")
    print(f"   CPU seconds: {cpu_publish}")
    print("   sizes: " + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in sorted(sizes.items())))
    print(f"reports service peak RSS (VmHWM): {rss_before:.0f} MiB at start, {rss_snapshot:.0f} after the snapshot "
          f"and protocol, {rss_publish:.0f} after publishing, {rss_end:.0f} at the end   target < 300")
    print(f"baseline, empty read model (completed from consultations, pages of 5,000): close → snapshot "
          f"{backfill[0]:.2f} s (CPU seconds: {backfill[2]}), → protocol files {backfill[1]:.2f} s (CPU seconds: "
          f"{backfill[3]})  ratio {backfill[0] / snapshot_s:.1f}×")


def _sql(template: str, params: dict) -> str:
    """Inline the benchmark's own numbers and ids (never outside input) into a seeding statement."""
    out = template
    for key in sorted(params, key=len, reverse=True):
        value = params[key]
        out = out.replace(f":{key}", f"'{value}'" if isinstance(value, str) else str(value))
    return out


if __name__ == "__main__":
    main()
