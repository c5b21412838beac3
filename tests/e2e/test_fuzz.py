"""schemathesis on the reports routes of a real, archived report (tests/support/fuzzing.py); the
other operations are fuzzed by tests/e2e/test_fuzz_anonymous_*.py and test_fuzz_resident.py."""
from __future__ import annotations

import pytest

from tests.support.api import Caller, dev_login
from tests.support.consultations import close_now, open_consultation
from tests.support.fuzzing import fuzz
from tests.support.waiting import eventually

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def archived_report(env, system) -> tuple[str, dict]:
    """A consultation closed, its one proposal considered, its report published, then archived: the
    reports routes answer 200 with real bodies and files (random ids only reach their 404s)."""
    base = system.base_url
    official = dev_login(base, ["official"], unit="Відділ фазингу звітів", full_name="Фазер Звітів Посадовий")
    cid = open_consultation(official, title="Фазинг звітів")["id"]
    author = dev_login(base, full_name="Автор Фазингу Звітів")
    comment = author.post(f"/api/v1/consultations/{cid}/comments", json={"body": "Пропоную освітлення доріжки"})
    assert comment.status_code == 201, comment.text
    assert eventually(lambda: Caller(base).get(f"/api/v1/consultations/{cid}/comments").json()["items"], seconds=15)
    close_now(env, cid)
    report = f"/api/v1/consultations/{cid}/report"
    assert eventually(lambda: official.get(report).status_code == 200, seconds=20)
    assert official.put(report + "/considerations", json={"comment_id": comment.json()["id"], "outcome": "accepted"}).ok
    assert official.put(report + "/conclusion", json={"conclusion": "Громада підтримує."}).ok
    assert official.post(report + "/publish").status_code == 202
    assert eventually(lambda: official.get(report + "/versions").json()["items"], seconds=20)
    assert official.post(f"/api/v1/consultations/{cid}/archive").status_code == 200
    assert eventually(lambda: Caller(base).get(f"/api/v1/consultations/{cid}/archive/manifest.sha256").ok, seconds=20)
    return cid, official.headers()


def test_reports_routes_on_a_real_report_answer_as_documented(system, archived_report):
    """Clause R-3.16."""
    cid, official = archived_report
    mine = lambda p: p.startswith("/api/v1/consultations/{consultation_id}/") and (  # noqa: E731
        "/report" in p or "/protocol" in p or "/archive/" in p)
    seen: dict[str, set[int]] = {}
    failures = [f"anonymous {f}" for f in fuzz(system.base_url, {}, only=mine, path={"consultation_id": cid})]
    failures += [f"owner {f}" for f in fuzz(system.base_url, official, only=mine, path={"consultation_id": cid},
                                            seen=seen)]
    assert not failures, "\n\n".join(failures)
    # the pinned id reached the real report: every read answered 200 at least once, writes 409 (archived)
    assert len(seen) == 23, seen
    # a one-proposal report has no group of near-identical proposals: a group id reaches only its 404
    assert all(200 in codes for op, codes in seen.items() if op.startswith("GET ") and "{group_id}" not in op), seen
    assert all(409 in codes for op, codes in seen.items() if op.startswith(("PUT ", "POST "))), seen
