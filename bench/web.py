"""The web pages beside the JSON they are built from, same gateway, same run:

* the home page (two listings) beside `GET /api/v1/consultations?status=active`;
* a consultation's page (the consultation, a page of comments, the results: three RPCs) beside
  `GET /api/v1/consultations/{id}` (one RPC).

    python bench/web.py [--url http://localhost:8000] [--requests 300]
"""
from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import HEADER, hammer, machine, parse_args, system  # noqa: E402


def main() -> None:
    args = parse_args(__doc__)
    from chassis.workdays import local_today
    from common import NOTICE, draft
    from chassis.testing.api import dev_login

    n = max(args.requests // 4, 100)
    with system(args.url) as base:
        official = dev_login(base, ["official"], unit="Управління вимірювань", full_name="Посадовець Вимірів")
        body = draft(notice=NOTICE, starts_on=local_today().isoformat(),
                     ends_on=(local_today() + timedelta(days=20)).isoformat())
        cid = official.post("/api/v1/consultations", json=body).json()["id"]
        official.post(f"/api/v1/consultations/{cid}/publish")
        resident = dev_login(base, full_name="Мешканець Вимірів")
        for i in range(20):
            resident.post(f"/api/v1/consultations/{cid}/comments", json={"body": f"Пропозиція {i}: більше рейсів"})
        hammer("warm-up", base + "/", 50, 1)
        rows = []
        api = hammer("GET /api/v1/consultations?status=active", base + "/api/v1/consultations?status=active", n, 1)
        rows += [(api, None), (hammer("GET / (home page)", base + "/", n, 1), api)]
        api = hammer("GET /api/v1/consultations/{id}", f"{base}/api/v1/consultations/{cid}", n, 1)
        rows += [(api, None), (hammer("GET /consultations/{id} (page)", f"{base}/consultations/{cid}", n, 1), api)]
    print(f"# bench/web.py on {machine()}; sequential, anonymous; ratio = page req/s ÷ the JSON route's")
    print(HEADER)
    for fig, base_fig in rows:
        print(fig.row(base_fig))


if __name__ == "__main__":
    main()
