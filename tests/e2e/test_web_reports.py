"""The R-3.16 report in a real browser: after the consultation closes, an
official of the owning unit considers the proposals (one alone, the rest ticked together), is
refused publishing while one lacks a consideration, publishes, sees «звіт формується» and then
version 1 with its files; a resident reads the report on the consultation page; an official of
another unit gets no «Керувати» link and no desk. axe-core and screenshots as in test_web_pages."""
from __future__ import annotations

import re

import pytest
import requests

from tests.support.consultations import closed_with_proposals
from tests.support.waiting import eventually
from tests.support.api import dev_login
from tests.support.browser import SHOTS, browser, check_axe, login, new_page, shoot  # noqa: F401 (fixtures)

pytestmark = pytest.mark.system

UNIT = "Управління веб-звітів"
TEXTS = ["Освітлити пішохідний перехід біля школи № 5.",
         "Поставити лавки вздовж алеї біля ставу.",
         "Зробити пандус біля входу до парку."]


@pytest.fixture(scope="module")
def closed(env, system):
    """A proposal consultation of UNIT with three published proposals, closed by its own timer."""
    return closed_with_proposals(env, UNIT, TEXTS, title="Благоустрій парку Шевченка",
                                 question="Що змінити в парку Шевченка?")


def row(page, text: str):
    return page.locator("table.considerations tbody tr", has_text=text)


def test_official_considers_is_refused_then_publishes_and_a_resident_reads_the_report(system, closed, new_page):
    """Clauses R-3.8, R-3.16."""
    base, cid, ids = system.base_url, closed["cid"], closed["ids"]
    desk_url = f"{base}/official/consultations/{cid}/report"
    stranger = dev_login(base, ["official"], unit="Чужий відділ веб-звітів", full_name="Чужий Посадовець")
    assert "Керувати консультацією" not in stranger.get(f"/consultations/{cid}").text  # not the owning unit
    assert stranger.get(f"/official/consultations/{cid}/report").status_code == 404
    assert requests.get(desk_url, timeout=10, allow_redirects=False).status_code == 303  # to the login

    page = new_page()
    login(page, base, "Посадовиця Звітна Веб", roles=("resident", "official"), unit=UNIT,
          next_path=f"/consultations/{cid}")
    assert "Звіт ще готується" in page.locator("#report").inner_text()  # the owning unit sees the draft
    page.get_by_role("link", name="Розгляд пропозицій і звіт").click()
    assert page.url.endswith(f"/official/consultations/{cid}/report")
    assert re.search(r"Розглянуто\s+0\s+з\s+3", page.locator("#counter").inner_text())
    check_axe(page, "report-desk")
    shoot(page, "report-desk")

    # one proposal alone: "not accepted" needs a justification; refused, the choice stays
    first = row(page, TEXTS[0])
    first.get_by_label("Розгляд пропозиції № 1").select_option("not_accepted")
    first.get_by_role("button", name="Зберегти").click()
    first = row(page, TEXTS[0])
    assert "обґрунтування обов'язкове" in first.locator(f"#justification-{ids[0]}-error").inner_text()
    assert first.get_by_label("Розгляд пропозиції № 1").input_value() == "not_accepted"
    first.get_by_label("Розгляд пропозиції № 1").select_option("accepted")
    first.get_by_role("button", name="Зберегти").click()
    assert "Розгляд пропозиції збережено" in page.locator(".flash").inner_text()
    assert re.search(r"Розглянуто\s+1\s+з\s+3", page.locator("#counter").inner_text())
    assert "враховано" in row(page, TEXTS[0]).locator(".current").inner_text()

    page.get_by_label("Узагальнений висновок за результатами консультації").fill(
        "Громада підтримує освітлення та лавки; пандус включено до плану на наступний рік.")
    page.get_by_role("button", name="Зберегти висновок").click()
    assert "Узагальнений висновок збережено" in page.locator(".flash").inner_text()

    # two proposals still lack a consideration: refused, the reason shown, nothing published
    page.get_by_role("button", name="Оприлюднити звіт").click()
    assert "Не розглянуто пропозицій: 2" in page.locator("#publish-error").inner_text()
    assert row(page, TEXTS[1]).locator(".field-error").count() == 1
    assert closed["official"].get(f"/api/v1/consultations/{cid}/report/versions").json()["items"] == []

    # the rest together: ticked, one consideration and justification for both
    page.goto(desk_url + "?missing=1")
    assert row(page, TEXTS[0]).count() == 0 and row(page, TEXTS[1]).count() == 1
    row(page, TEXTS[1]).get_by_label("Позначити № 2").check()
    row(page, TEXTS[2]).get_by_label("Позначити № 3").check()
    page.get_by_label("Враховано частково").check()
    page.get_by_role("button", name="Застосувати до позначених").click()  # no justification: refused
    assert page.locator("#f-justification[aria-invalid=true]").count() == 1
    assert row(page, TEXTS[1]).get_by_label("Позначити № 2").is_checked() and row(page, TEXTS[2]).get_by_label("Позначити № 3").is_checked()
    page.get_by_label("Обґрунтування для позначених").fill("Лавки та пандус — у плані благоустрою на 2027 рік.")
    page.get_by_role("button", name="Застосувати до позначених").click()
    assert "Розгляд збережено для пропозицій: 2" in page.locator(".flash").inner_text()
    assert re.search(r"Розглянуто\s+3\s+з\s+3", page.locator("#counter").inner_text())

    page.get_by_role("button", name="Оприлюднити звіт").click()
    assert "формується" in page.locator(".flash").inner_text()

    def version_one():
        if page.locator("#forming").count():
            page.wait_for_timeout(500)
            page.reload()
        return page.locator(".versions li", has_text="Версія 1").count() == 1
    assert eventually(version_one, seconds=20)
    links = page.locator(".versions li", has_text="Версія 1").locator("a")
    assert [links.nth(i).inner_text() for i in range(links.count())] == ["HTML", "PDF", "CSV", "JSON", "XLSX"]
    pdf = requests.get(base + links.nth(1).get_attribute("href"), timeout=10)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert page.get_by_role("button", name="Зберегти").count() == 0  # published: the table is read-only
    assert page.locator("input[name=comment_ids]").count() == 0
    shoot(page, "report-desk-published")

    author = new_page()  # the first proposal's author: what became of it, on the cabinet's pages
    author.context.set_extra_http_headers({"Authorization": f"Bearer {closed['authors'][0].token}"})
    assert eventually(lambda: author.goto(f"{base}/me/feedback/{cid}").status == 200, seconds=20)
    assert "враховано" in author.locator("table.feedback").inner_text()
    check_axe(author, "feedback")
    author.goto(f"{base}/me#feedback")
    assert author.locator("#feedback table.feedback").count() == 1
    check_axe(author, "cabinet-feedback")

    reader = new_page()  # anyone, not logged in
    reader.goto(f"{base}/consultations/{cid}#report")
    section = reader.locator("#report")
    text = section.inner_text()
    assert "оприлюднено" in text and "пандус включено до плану" in text
    assert section.locator("a", has_text="PDF").count() >= 2  # the report's and the protocol's
    assert re.search(r"Усього\s+3", section.locator("table.representativeness").inner_text())
    assert re.search(r"приватна особа\s+3", section.locator("table.respondents").first.inner_text())
    assert requests.get(base + section.get_by_role("link", name="Протокол, CSV").get_attribute("href"),
                        timeout=10).status_code == 200
    assert reader.locator("text=Керувати консультацією").count() == 0
    check_axe(reader, "report-public")
    shoot(reader, "report-public")
    reader.emulate_media(media="print")  # the report prints: no navigation, the report and its tables stay
    assert not reader.locator("header.site").is_visible() and section.is_visible()
    assert section.locator("table.representativeness").is_visible()
    reader.screenshot(path=str(SHOTS / "report-public-print.png"), full_page=True)
    reader.pdf(path=str(SHOTS / "report-public-print.pdf"))
