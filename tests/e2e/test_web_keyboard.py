"""Keyboard only (WCAG 2.1.1 Keyboard, 2.4.1 Bypass Blocks, 2.4.3 Focus Order, 2.4.7 Focus Visible,
2.4.11 Focus Not Obscured): after the login (tests/support/browser.login), every step of these paths
is a key press — Tab, Shift+Tab, Enter, Space, the arrow keys in a radio group or a list, and typing —
never a click. Each path starts with the skip link; at every focus stop on the way the focus ring
must show and the element must be on screen, not covered (tests/support/browser.tab_to); axe-core
checks each page reached (docs/accessibility.md)."""
from __future__ import annotations

import re

import pytest

from tests.support.api import Caller, dev_login
from tests.support.browser import (browser, check_axe, choose_with_arrows, login, new_page, press,  # noqa: F401
                                   skip_to_main, tab_to)
from tests.support.consultations import closed_with_proposals, open_consultation
from tests.support.waiting import eventually

pytestmark = pytest.mark.system

UNIT = "Управління клавіатурних тестів"
HELD = "Потрібні пандуси біля кожного входу, приклад: www.example.com"  # a link: held for a moderator
RUDE = "Ці пандуси — повна xуйня"  # obscene: held by the screening


@pytest.fixture(scope="module")
def survey(system):
    official = dev_login(system.base_url, ["official"], unit=UNIT, full_name="Клавіатурна Посадовиця Інна")
    c = open_consultation(official, form="survey", alternatives=[], category=9, title="Доступний парк: опитування",
                          question="Що зробити в парку для людей з інвалідністю?",
                          questions=[{"text": "Що потрібно насамперед?", "kind": "single",
                                      "options": ["Пандуси", "Тактильна плитка", "Лавки з поручнями"]}])
    return c["id"]


def choose_and_send(page, choice, button) -> None:
    """Tab to a radio or checkbox, Space ticks it, Tab to the form's button, Enter sends it."""
    tab_to(page, choice)
    page.keyboard.press("Space")
    assert choice.is_checked()
    tab_to(page, button)
    press(page, "Enter")


def test_a_resident_answers_the_survey_and_comments_with_the_keyboard_only(system, survey, new_page):
    """Clauses R-3.5, R-3.12."""
    base = system.base_url
    page = new_page()
    login(page, base, "Клавіатурна Мешканка Ольга", next_path=f"/consultations/{survey}")
    skip_to_main(page)
    choose_and_send(page, page.get_by_label("Пандуси", exact=True), page.get_by_role("button", name="Надіслати відповідь"))
    assert "Дякуємо" in page.locator(".flash").inner_text()
    assert re.search(r"Пандуси\s+1", page.locator("#results").inner_text())
    check_axe(page, "survey answered")

    tab_to(page, page.get_by_label("Ваш коментар чи пропозиція"))
    page.keyboard.type(HELD)
    tab_to(page, page.get_by_role("button", name="Надіслати коментар"))
    press(page, "Enter")
    assert "Коментар надіслано" in page.locator(".flash").inner_text()
    mine = page.locator("#comments li", has_text=HELD)
    assert "на модерації" in mine.inner_text()
    check_axe(page, "comment sent")


def test_a_moderator_publishes_one_comment_and_rejects_another_with_a_ground_by_keyboard(system, survey, new_page):
    """Clauses R-3.7, R-3.10."""
    base = system.base_url
    author = dev_login(base, full_name="Автор Для Модерації Клавіатурою")
    for text in (HELD + " (2)", RUDE):
        assert author.post(f"/api/v1/consultations/{survey}/comments", json={"body": text}).status_code == 201
    moderator = dev_login(base, ["moderator"], full_name="Модераторка Клавіатурна")
    assert eventually(lambda: {HELD + " (2)", RUDE} <= {c["text"] for c in moderator.get("/api/v1/moderation/queue").json()["items"]})

    page = new_page()
    login(page, base, "Модератор Клавіатурний Степан", roles=("resident", "moderator"), next_path="/moderation")
    skip_to_main(page)
    case = page.locator("article.case", has_text=HELD + " (2)")
    choose_and_send(page, case.get_by_label("Оприлюднити"), case.get_by_role("button", name="Записати рішення"))
    assert "оприлюднено" in page.locator(".flash").inner_text()
    check_axe(page, "moderation after approving")
    assert eventually(lambda: HELD + " (2)" in [c["body"] for c in Caller(base).get(
        f"/api/v1/consultations/{survey}/comments", params={"per_page": 100}).json()["items"]])

    skip_to_main(page)
    case = page.locator("article.case", has_text=RUDE)
    tab_to(page, case.get_by_label("Оприлюднити"))  # the radio group's first stop
    page.keyboard.press("ArrowDown")  # the next radio: «Відхилити», chosen
    assert case.get_by_label("Відхилити", exact=True).is_checked()
    tab_to(page, case.locator("summary", has_text="Підстави відхилення"))
    page.keyboard.press("Enter")  # opens the grounds
    ground = case.get_by_label("Ненормативна лексика (п. 3.7)")
    tab_to(page, ground)
    page.keyboard.press("Space")
    assert ground.is_checked()
    check_axe(page, "moderation with the grounds open")
    tab_to(page, case.get_by_role("button", name="Записати рішення"))
    press(page, "Enter")
    assert "відхилено" in page.locator(".flash").inner_text()
    assert page.locator("article.case", has_text=RUDE).count() == 0
    check_axe(page, "moderation after rejecting")


@pytest.fixture(scope="module")
def closed(env, system):
    return closed_with_proposals(env, UNIT, ["Встановити пандус біля бібліотеки.", "Додати шрифт Брайля на табличках."],
                                 title="Доступність бібліотеки", question="Що змінити в бібліотеці?")


def test_an_official_records_a_consideration_on_the_report_desk_by_keyboard(system, closed, new_page):
    """Clauses R-3.8, R-3.16."""
    base, cid = system.base_url, closed["cid"]
    page = new_page()
    login(page, base, "Клавіатурний Посадовець Звітів", roles=("resident", "official"), unit=UNIT,
          next_path=f"/official/consultations/{cid}/report")
    assert re.search(r"Розглянуто\s+0\s+з\s+2", page.locator("#counter").inner_text())
    skip_to_main(page)
    row = page.locator("table.considerations tbody tr", has_text="пандус біля бібліотеки")
    outcome = row.get_by_label(re.compile(r"^Розгляд пропозиції № \d+$"))
    tab_to(page, outcome)
    choose_with_arrows(page, outcome, "partly_accepted")
    tab_to(page, row.get_by_label(re.compile(r"^Обґрунтування № \d+$")))
    page.keyboard.type("Пандус — у плані ремонту на 2027 рік; до того — мобільний пандус.")
    tab_to(page, row.get_by_role("button", name="Зберегти"))
    press(page, "Enter")
    assert "Розгляд пропозиції збережено" in page.locator(".flash").inner_text()
    assert re.search(r"Розглянуто\s+1\s+з\s+2", page.locator("#counter").inner_text())
    assert "враховано частково" in page.locator("table.considerations tbody tr", has_text="пандус біля бібліотеки").locator(".current").inner_text()
    check_axe(page, "report desk after a consideration")
    saved = closed["official"].get(f"/api/v1/consultations/{cid}/report/considerations").json()["items"]
    first = next(i for i in saved if i["comment_id"] == closed["ids"][0])
    assert first["outcome"] == "partly_accepted" and "мобільний пандус" in first["justification"]
