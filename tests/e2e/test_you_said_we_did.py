""""You said, we did" through the whole system (R-3.16, R-3.18): when a report version is published
every person with a published comment gets ONE message, in the cabinet and (if they chose e-mail) by
e-mail, listing each of their comments with its consideration, the justification and the links; the
version that records the decision tells only that; the cabinet shows the same per consultation."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from chassis.workdays import local_today
from tests.support.api import Caller, dev_login
from tests.support.consultations import close_now, open_consultation
from tests.support.mail import mails
from tests.support.waiting import eventually

pytestmark = pytest.mark.system


def feedback_inbox(caller: Caller, title: str) -> list[dict]:
    return [m for m in caller.get("/api/v1/me/notifications").json()["items"] if title in m["title"]]


def test_R_3_16_every_contributor_learns_what_became_of_each_comment_once_per_version(env, system):
    """Clause R-3.16."""
    base, tag = system.base_url, "y" + uuid.uuid4().hex[:8]
    title = f"Сквер на Шевченка {tag}"
    official = dev_login(base, ["official"], unit="Управління благоустрою ВСМД", full_name="Звітна Ірина")
    cid = open_consultation(official, title=title)["id"]
    anna = dev_login(base, full_name="Анна Пропозиційна")
    assert anna.put("/api/v1/me", json={"email": f"anna@{tag}.example", "email_enabled": True}).status_code == 200
    borys = dev_login(base, full_name="Борис Безпоштовий")  # no e-mail chosen: the cabinet only
    texts = {"a1": "Посадити в сквері липи вздовж алеї.", "a2": "Поставити лавки з навісом біля фонтану.",
             "b1": "Облаштувати майданчик для вигулу собак."}
    ids = {}
    for key, body in texts.items():
        who = anna if key.startswith("a") else borys
        r = who.post(f"/api/v1/consultations/{cid}/comments", json={"body": body})
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]
    assert eventually(lambda: {c["id"] for c in Caller(base).get(
        f"/api/v1/consultations/{cid}/comments").json()["items"]} == set(ids.values()), seconds=20)
    close_now(env, cid)
    report = f"/api/v1/consultations/{cid}/report"
    assert eventually(lambda: official.get(report).status_code == 200, seconds=20)
    for key, outcome, why in (("a1", "accepted", None), ("a2", "not_accepted", "Фонтан реставрують до 2028 року"),
                              ("b1", "partly_accepted", "Майданчик буде, але в іншому сквері")):
        body = {"comment_id": ids[key], "outcome": outcome} | ({"justification": why} if why else {})
        assert official.put(report + "/considerations", json=body).status_code == 200
    assert official.put(report + "/conclusion", json={"conclusion": "Пропозиції враховано."}).status_code == 200
    assert official.post(report + "/publish").status_code == 202

    # version 1: one cabinet message and one e-mail to Anna listing both comments; Borys the cabinet only
    first = eventually(lambda: feedback_inbox(anna, title), seconds=30)
    assert len(first) == 1, first
    assert "№ 1 (загалом): «Посадити в сквері липи вздовж алеї.» — враховано" in first[0]["body"]
    assert "— не враховано. Обґрунтування: Фонтан реставрують до 2028 року" in first[0]["body"]
    assert first[0]["link"].endswith(f"/consultations/{cid}#report")
    b = eventually(lambda: feedback_inbox(borys, title), seconds=30)
    assert len(b) == 1 and "враховано частково. Обґрунтування: Майданчик буде" in b[0]["body"]
    assert "Посадити" not in b[0]["body"], "a person is told about their own comments only"
    mail_dir = Path(env.vars["MAIL_DIR"])
    got = eventually(lambda: mails(mail_dir, tag, title), seconds=30)
    assert len(got) == 1 and got[0]["Subject"] == f"Що сталося з вашими пропозиціями: «{title}»"
    text = got[0].get_body(("plain",)).get_content()
    assert "Результат розгляду: не враховано" in text and "Обґрунтування: Фонтан реставрують" in text
    assert got[0]["List-Unsubscribe"].startswith("<") and got[0]["Message-ID"].startswith("<delivery-")

    # the cabinet: the same, per consultation; someone else's or none is 404
    mine = anna.get("/api/v1/me/feedback").json()["items"]
    ours = [f for f in mine if f["consultation_id"] == cid]
    assert len(ours) == 1 and [c["outcome_label"] for c in ours[0]["comments"]] == ["враховано", "не враховано"]
    assert ours[0]["decision_url"] is None and ours[0]["report_version"] == 1
    assert anna.get(f"/api/v1/me/feedback/{cid}").json()["comments"][1]["justification"].startswith("Фонтан")
    missing = official.get(f"/api/v1/me/feedback/{cid}")
    assert missing.status_code == 404 and missing.headers["Content-Type"].startswith("application/problem+json")
    assert Caller(base).get(f"/api/v1/me/feedback/{cid}").status_code == 401
    page = anna.get("/me")
    assert page.status_code == 200 and "Що сталося з моїми пропозиціями" in page.text and "Фонтан реставрують" in page.text
    assert anna.get(f"/me/feedback/{cid}").status_code == 200 and official.get(f"/me/feedback/{cid}").status_code == 404

    # version 2 records the decision: nothing else changed, so each is told only that, once
    r = official.post(f"/api/v1/consultations/{cid}/decision", json={
        "number": "№ 512", "adopted_on": local_today().isoformat(), "title": "Про благоустрій скверу",
        "text": "Благоустроїти сквер з урахуванням пропозицій громади."})
    assert r.status_code == 201, r.text
    assert eventually(lambda: len(feedback_inbox(anna, title)) == 2, seconds=30)
    second = feedback_inbox(anna, title)[0]
    assert second["title"] == f"Оновлено звіт консультації «{title}»"
    assert "Ухвалено рішення № 512" in second["body"] and "Посадити" not in second["body"]
    assert eventually(lambda: len(mails(mail_dir, tag, title)) == 2, seconds=30)
    assert len(feedback_inbox(borys, title)) == 2
    now = anna.get(f"/api/v1/me/feedback/{cid}").json()
    assert now["report_version"] == 2 and now["decision_url"].endswith(f"/consultations/{cid}#decision")
    assert len(now["comments"]) == 2
    time_to_settle = eventually(lambda: len(mails(mail_dir, tag, title)) > 2, seconds=3)
    assert not time_to_settle, "one e-mail per version, never more"
