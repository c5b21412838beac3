"""The web pages in a real browser: Playwright drives Debian's Chromium against the running
gateway; axe-core (npm registry) checks WCAG on the main pages; screenshots at phone and desktop
widths land in var/screenshots/. If Chromium cannot start the tests fail, they never skip."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
import requests

from chassis.workdays import local_today
from tests.support.samples import FULL_NOTICE, draft_body
from tests.support.waiting import eventually
from tests.support.api import Caller, dev_login
from tests.support.browser import browser, check_axe, login, new_page, shoot  # noqa: F401 (fixtures)

pytestmark = pytest.mark.system

UNIT = "Управління веб-тестів"


@pytest.fixture(scope="module")
def world(system):
    base = system.base_url
    official = dev_login(base, ["official"], unit=UNIT, full_name="Посадовець Веб Тестович")
    body = draft_body(form="survey", title="Парк на Хмельницького: опитування", category=9,
                      alternatives=[], notice=FULL_NOTICE, starts_on=local_today().isoformat(),
                      ends_on=(local_today() + timedelta(days=20)).isoformat(),
                      questions=[{"text": "Що потрібно в парку насамперед?", "kind": "single",
                                  "options": ["Освітлення", "Лавки", "Дитячий майданчик"]}])
    cid = official.post("/api/v1/consultations", json=body).json()["id"]
    assert official.post(f"/api/v1/consultations/{cid}/publish").status_code == 200
    proposal = draft_body(notice=FULL_NOTICE, starts_on=local_today().isoformat(),
                          ends_on=(local_today() + timedelta(days=20)).isoformat(),
                          title="Вуличне освітлення на Шевченка")
    pid = official.post("/api/v1/consultations", json=proposal).json()["id"]
    assert official.post(f"/api/v1/consultations/{pid}/publish").status_code == 200
    return {"cid": cid, "pid": pid, "official": official,
            "moderator": dev_login(base, ["moderator"], full_name="Модераторка Веб Оксана")}


def test_resident_logs_in_comments_answers_and_sees_pending_then_published(system, world, new_page):
    base, cid = system.base_url, world["cid"]
    page = new_page()
    login(page, base, "Мешканка Олена Петрівна", next_path=f"/consultations/{cid}")
    assert page.locator("html").get_attribute("lang") == "uk"
    # a link holds the comment for a moderator, so "pending" is there to see
    page.get_by_label("Ваш коментар чи пропозиція").fill("Потрібне освітлення доріжок, приклад: www.example.com")
    page.get_by_role("button", name="Надіслати коментар").click()
    assert "Коментар надіслано" in page.locator(".flash").inner_text()
    mine = page.locator("#comments li", has_text="Потрібне освітлення доріжок")
    assert "Мешканка Олена Петрівна" in mine.inner_text() and "на модерації" in mine.inner_text()

    page.get_by_label("Освітлення", exact=True).check()
    page.get_by_role("button", name="Надіслати відповідь").click()
    assert "Дякуємо" in page.locator(".flash").inner_text()
    assert re.search(r"Освітлення\s+1", page.locator("#results").inner_text())

    anonymous = requests.get(f"{base}/consultations/{cid}", timeout=10).text
    assert "Потрібне освітлення доріжок" not in anonymous  # pending: nobody else sees it

    moderator = world["moderator"]
    case = eventually(lambda: next((c for c in moderator.get("/api/v1/moderation/queue").json()["items"]
                                    if "освітлення доріжок" in (c["text"] or "")), None))
    assert moderator.post(f"/api/v1/moderation/cases/{case['id']}/decision",
                          json={"decision": "approve"}).status_code == 200

    def published():
        page.reload()
        item = page.locator("#comments li", has_text="Потрібне освітлення доріжок")
        return item.count() == 1 and "на модерації" not in item.inner_text()

    assert eventually(published, seconds=10)
    assert "Потрібне освітлення доріжок" in requests.get(f"{base}/consultations/{cid}", timeout=10).text
    other = new_page()  # another resident reports it; the moderators see the report in the queue
    login(other, base, "Пильний Мешканець Петро", next_path=f"/consultations/{cid}")
    item = other.locator("#comments li", has_text="Потрібне освітлення доріжок")
    item.locator("summary").click()
    item.get_by_label("Що порушує правила (п. 3.7)?").fill("Реклама стороннього сайту")
    item.get_by_role("button", name="Надіслати скаргу").click()
    assert "Скаргу передано" in other.locator(".flash").inner_text()
    assert eventually(lambda: any(c["source"] == "report" and "освітлення доріжок" in (c["text"] or "")
                                  for c in moderator.get("/api/v1/moderation/queue").json()["items"]))
    check_axe(page, "consultation")
    shoot(page, "consultation")
    page.goto(f"{base}/me")
    check_axe(page, "cabinet")
    shoot(page, "cabinet")


def test_moderator_rejects_an_obscene_comment_and_the_author_sees_the_ground(system, world, new_page):
    """Clause R-3.7."""
    base, pid = system.base_url, world["pid"]
    author = new_page()
    login(author, base, "Лайливий Веб Автор", next_path=f"/consultations/{pid}")
    author.get_by_label("Ваш коментар чи пропозиція").fill("Це освітлення — повна xуйня")
    author.get_by_role("button", name="Надіслати коментар").click()
    assert "Коментар надіслано" in author.locator(".flash").inner_text()

    mod = new_page()
    login(mod, base, "Модератор Веб Степан", roles=("resident", "moderator"), next_path="/moderation")

    def held():
        mod.reload()
        return mod.locator("article.case", has_text="повна xуйня").count() == 1

    assert eventually(held, seconds=10)
    case = mod.locator("article.case", has_text="повна xуйня")
    assert "ненормативна лексика" in case.inner_text() and "розглянути до" in case.inner_text()
    check_axe(mod, "moderation")
    shoot(mod, "moderation")
    case.get_by_label("Відхилити", exact=True).check()
    case.get_by_role("button", name="Записати рішення").click()  # no ground: refused, nothing changes
    assert mod.locator(".error-summary").count() == 1
    case = mod.locator("article.case", has_text="повна xуйня")
    case.get_by_label("Ненормативна лексика (п. 3.7)").check()
    case.get_by_label("Відхилити", exact=True).check()
    case.get_by_role("button", name="Записати рішення").click()
    assert "відхилено" in mod.locator(".flash").inner_text()
    assert mod.locator("article.case", has_text="повна xуйня").count() == 0

    def ground_shown():
        author.goto(f"{base}/me")
        row = author.locator("#my-comments tr", has_text="повна xуйня")
        return row.count() == 1 and "Ненормативна лексика" in row.inner_text()

    assert eventually(ground_shown, seconds=10)
    assert "повна xуйня" not in requests.get(f"{base}/consultations/{pid}", timeout=10).text


def test_official_drafts_sees_the_checklist_and_publishes(system, world, new_page):
    """Clause R-3.13."""
    base = system.base_url
    page = new_page()
    login(page, base, "Посадовиця Веб Ірина", roles=("resident", "official"), unit=UNIT, next_path="/official/new")
    check_axe(page, "official-new")
    shoot(page, "official-new")
    page.get_by_label("Назва").fill("Ма")  # too short: refused, what was typed stays
    page.get_by_label("Питання консультації").fill("Де облаштувати новий сквер у центрі міста?")
    page.get_by_label("Альтернативні варіанти рішення (кожен з нового рядка)").fill("Біля ринку\nБіля школи № 3")
    page.get_by_role("button", name="Зберегти чернетку").click()
    assert "щонайменше 5 симв." in page.locator("#title-error").inner_text()
    assert page.get_by_label("Питання консультації").input_value() == "Де облаштувати новий сквер у центрі міста?"
    assert page.get_by_label("Альтернативні варіанти рішення (кожен з нового рядка)").input_value() == "Біля ринку\nБіля школи № 3"
    page.get_by_label("Назва").fill("Новий сквер у центрі")
    page.get_by_role("button", name="Зберегти чернетку").click()
    assert "/official/consultations/" in page.url
    checklist = page.locator(".checklist").inner_text()
    assert "відповідальна посадова особа" in checklist and "дата початку" in checklist
    page.get_by_role("button", name="Оприлюднити").click()  # refused: the fields are named
    assert page.locator(".error-summary").count() == 1
    assert page.locator("#holder-error").count() == 1
    for name, value in FULL_NOTICE.items():
        page.locator(f"#f-{name}").fill(value)
    page.get_by_label("Дата початку").fill(local_today().isoformat())
    page.get_by_label("Дата завершення").fill((local_today() + timedelta(days=20)).isoformat())
    page.get_by_role("button", name="Зберегти чернетку").click()
    assert "Усе заповнено" in page.locator(".checklist").inner_text()
    # Materials from the same page: a file that is not what it says is refused beside the field
    # (the title typed stays), a real PDF is attached and listed.
    materials = page.locator("#materials")
    materials.get_by_label("Заголовок документа").fill("Схема скверу")
    page.locator("#f-file").set_input_files(files=[{"name": "schema.pdf", "mimeType": "application/pdf",
                                                          "buffer": b"just text, not a PDF"}])
    materials.get_by_role("button", name="Додати файл").click()
    assert "PDF" in page.locator("#file-error").inner_text()
    assert page.locator("#materials").get_by_label("Заголовок документа").input_value() == "Схема скверу"
    page.locator("#f-file").set_input_files(files=[
        {"name": "schema.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n" + b"0" * 200}])
    page.locator("#materials").get_by_role("button", name="Додати файл").click()
    assert "Файл «Схема скверу» додано" in page.locator(".flash").inner_text()
    assert page.locator("#materials li", has_text="Схема скверу").count() == 1
    check_axe(page, "official-draft")  # the drafting page with its checklist and the upload form
    shoot(page, "official-draft")
    page.get_by_role("button", name="Оприлюднити").click()
    assert re.search(r"/consultations/[0-9a-f-]{36}$", page.url)
    assert "триває" in page.locator("article header").inner_text()
    assert "Петренко Іван Іванович" in page.locator(".notice").inner_text()
    assert "Схема скверу" in page.locator("main").inner_text()  # the material on the public page
    page.goto(f"{base}/official")
    check_axe(page, "official")


def test_public_pages_are_accessible_and_photographed(system, world, new_page):
    base = system.base_url
    page = new_page()
    for name, path in (("home", "/"), ("login", "/login"), ("plan", f"/plan/{local_today().year}"),
                       ("search", "/?q=парк"), ("accessibility", "/accessibility")):
        r = page.goto(base + path)
        assert r.status == 200, (path, r.status)
        assert page.locator("main#main").count() == 1 and page.locator("header nav").count() == 1
        check_axe(page, name)
        shoot(page, name)
    page.emulate_media(media="print")  # the print stylesheet: the notice without navigation or forms
    assert not page.locator("header.site").is_visible() and not page.locator("form.search").is_visible()
    page.emulate_media(media="screen")
    page.goto(base + "/?q=парк")
    assert "Парк на Хмельницького" in page.locator("main").inner_text()
    assert page.goto(base + f"/consultations/{uuid.uuid4()}").status == 404
    paths = requests.get(base + "/openapi.json", timeout=10).json()["paths"]
    assert not [p for p in paths if not p.startswith(("/api/v1", "/healthz", "/readyz", "/metrics"))]


def test_the_other_pages_and_their_refusals_pass_axe(system, world, new_page):
    """The pages no other browser test opens, each checked by axe-core (WCAG 2.2 AA), and the
    refusals shown beside a field: the statement from the footer, the plan's proposal form refused,
    the moderation statistics, the deadlines, the erasure step refused, a missing page."""
    base, year = system.base_url, local_today().year
    page = new_page()
    login(page, base, "Всюдисуща Веб Перевірка", roles=("resident", "official", "moderator"), unit=UNIT,
          next_path=f"/plan/{year}")
    page.locator("footer").get_by_role("link", name="Заява про доступність").click()
    assert page.url == f"{base}/accessibility" and "Стан відповідності" in page.locator("main").inner_text()
    page.goto(f"{base}/plan/{year}")
    page.get_by_label("Тема").fill("Ок")  # too short: refused beside the field
    page.get_by_role("button", name="Надіслати").click()
    assert page.locator("#f-title[aria-invalid=true]").count() == 1
    check_axe(page, "plan-refused")
    for name, path in (("moderation-stats", "/moderation/stats"), ("official-overdue", "/official?overdue=1"),
                       ("erase", "/me/erase"), ("missing", f"/consultations/{uuid.uuid4()}")):
        page.goto(base + path)
        check_axe(page, name)
    page.goto(base + "/me/erase")
    page.get_by_label("Щоб підтвердити, введіть слово ВИДАЛИТИ").fill("видалити")
    page.get_by_role("button", name="Відкликати згоду й видалити").click()
    assert page.locator("#f-confirm[aria-invalid=true]").count() == 1
    check_axe(page, "erase-refused")


def test_form_without_csrf_token_is_refused_and_changes_nothing(system, world, new_page):
    base, cid = system.base_url, world["cid"]
    page = new_page()
    login(page, base, "Мешканець Без Токена", next_path=f"/consultations/{cid}")
    r = page.request.post(f"{base}/consultations/{cid}/comments", form={"body": "Коментар без CSRF-токена"},
                          max_redirects=0)
    assert r.status == 403
    wrong = page.request.post(f"{base}/consultations/{cid}/comments",
                              form={"body": "Коментар з чужим токеном", "csrf_token": "x" * 32}, max_redirects=0)
    assert wrong.status == 403
    person = Caller(base)  # anonymous reader: the text never arrived anywhere
    texts = [c["body"] for c in person.get(f"/api/v1/consultations/{cid}/comments",
                                           params={"per_page": 100}).json()["items"]]
    assert not any("CSRF" in t or "чужим токеном" in t for t in texts)
    page.goto(f"{base}/me")
    assert "Коментар без CSRF-токена" not in page.locator("main").inner_text()


def test_resident_initiates_a_consultation_which_waits_for_moderation(system, world, new_page):
    """Clauses R-3.10, R-3.11."""
    base = system.base_url
    page = new_page(375, 812)
    login(page, base, "Ініціаторка Веб Марія", next_path="/initiative")
    page.get_by_label("Назва").fill("Дах")  # too short: refused by the server, the text kept
    page.get_by_label("Питання консультації").fill("Чи потрібен велопарковці біля ліцею № 2 дах?")
    page.get_by_role("button", name="Надіслати ініціативу").click()
    assert page.locator("#title-error").count() == 1
    assert page.get_by_label("Питання консультації").input_value() == "Чи потрібен велопарковці біля ліцею № 2 дах?"
    page.get_by_label("Назва").fill("Дах для велопарковки біля ліцею")
    page.get_by_label("Альтернативні варіанти рішення (кожен з нового рядка)").fill("Так\nНі")
    page.get_by_role("button", name="Надіслати ініціативу").click()
    assert re.search(r"/consultations/[0-9a-f-]{36}$", page.url)
    assert "Ваше повідомлення знаходиться на модерації" in page.locator(".notice-mark").inner_text()
    assert requests.get(page.url, timeout=10).status_code == 404  # nobody else sees it
    page.goto(f"{base}/me")  # the cabinet lists it with its status
    row = page.locator("#my-initiatives tr", has_text="Дах для велопарковки біля ліцею")
    assert row.count() == 1 and "на модерації" in row.inner_text()
