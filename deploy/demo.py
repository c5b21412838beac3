"""A small Ukrainian demo set for `make run` (skipped with DEMO=0): persons of every role for dev
login, a consultation of each form in different states, an initiative on moderation, plan entries.

Written straight through the services' domain rules into their databases (before the services
start), so it needs no running system; events wait in the outboxes and go out once the services
are up. Running it again changes nothing.
"""
from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import select

from chassis.db import Db, make_engine
from chassis.log import configure_logging
from chassis.store import OpenUnit
from chassis.workdays import local_today
from contracts.consultations import ConsultationIn, PlanEntryIn
from contracts.identity import Role
from contracts.registry import DevLoginIn
from services.consultations.handlers import drafting as consultations
from services.consultations.handlers import plan
from services.consultations.rules import Rules
from services.consultations.store import Store as ConsultationsStore
from services.consultations.models import consultations as consultations_table
from services.registry import handlers as registry
from services.registry.store import Store as RegistryStore

log = logging.getLogger("demo")
MARK = "[demo]"

PEOPLE = {  # dev-login subjects: use them at POST /api/v1/auth/dev-login
    "demo-resident": DevLoginIn(subject="demo-resident", full_name="Шевчук Оксана Михайлівна",
                                birth_date=date(1988, 4, 12), roles=[Role.resident]),
    "demo-official": DevLoginIn(subject="demo-official", full_name="Бондаренко Ігор Васильович",
                                birth_date=date(1979, 9, 3), roles=[Role.official], unit="Управління транспорту"),
    "demo-moderator": DevLoginIn(subject="demo-moderator", full_name="Ткаченко Лариса Петрівна",
                                 birth_date=date(1984, 1, 20), roles=[Role.moderator]),
    "demo-admin": DevLoginIn(subject="demo-admin", full_name="Кравець Андрій Олегович",
                             birth_date=date(1975, 6, 30), roles=[Role.admin]),
    "demo-head": DevLoginIn(subject="demo-head", full_name="Мельник Галина Іванівна",
                            birth_date=date(1966, 11, 2), roles=[Role.institution_head]),
    "demo-teen": DevLoginIn(subject="demo-teen", full_name="Коваль Денис Андрійович",
                            birth_date=local_today() - timedelta(days=13 * 365 + 100), roles=[Role.resident]),
}

NOTICE = {
    "holder": "Виконавчий комітет Коростенської міської ради",
    "materials": "Пояснювальна записка та розрахунки додано до оголошення",
    "stakeholders": "Мешканці міста, пасажири, перевізники",
    "consequences": "Зміна умов перевезень для пасажирів",
    "procedure": "Пропозиції подаються через веб-сервіс до дати завершення консультації",
    "participation": "Оголошення на сайті ради, у соцмережах і на зупинках",
    "responsible_official": "Бондаренко Ігор Васильович",
    "results_publication": "Звіт буде оприлюднено на веб-сервісі протягом 15 днів після завершення",
}


def main() -> None:
    configure_logging("demo")
    reg, con = Db(make_engine("registry")), Db(make_engine("consultations"))
    with con.transaction() as s:
        if s.execute(select(consultations_table.c.id).where(consultations_table.c.title.like(f"%{MARK}"))).first():
            print("demo data already loaded")
            return
    who = {}
    with reg.transaction() as s:
        store = RegistryStore(s)
        for key, person in PEOPLE.items():
            ref = registry.dev_person(store, person)
            who[key] = registry.principal(store, ref.id)
    today = local_today()
    rules = Rules()
    official, resident = who["demo-official"], who["demo-resident"]
    with con.transaction() as s:
        uow = OpenUnit(ConsultationsStore(s))  # all of it in one transaction

        def publish(body: dict, start: date, end: date) -> str:
            c = consultations.create(uow, official, ConsultationIn(**body, notice=NOTICE, starts_on=start, ends_on=end),
                                     today)
            return str(consultations.publish(uow, official, c.id, start, rules).id)

        publish({"form": "proposal", "title": f"Тарифи на проїзд у міських автобусах {MARK}", "category": 17,
                 "question": "Який тариф на проїзд у міських автобусах встановити з 1 січня?",
                 "alternatives": [{"text": "Залишити 12 грн"}, {"text": "15 грн із пільгами для студентів"}]},
                today, today + timedelta(days=20))
        publish({"form": "survey", "title": f"Опитування щодо парку Древлянський {MARK}", "category": 15,
                 "question": "Що варто змінити в парку Древлянський наступного року?",
                 "questions": [{"text": "Що облаштувати насамперед?", "kind": "single",
                                "options": ["Освітлення", "Лавки", "Дитячий майданчик"]},
                               {"text": "Ваші пропозиції", "kind": "text"}]},
                today, today + timedelta(days=30))
        act = consultations.create(uow, official, ConsultationIn(
            form="draft_act", title=f"Проєкт правил благоустрою міста {MARK}", category=15, notice=NOTICE,
            question="Обговорення проєкту Правил благоустрою території міста Коростеня",
            draft_text="1. Загальні положення.\n\n2. Утримання прибудинкових територій.\n\n3. Відповідальність.",
            starts_on=today + timedelta(days=3), ends_on=today + timedelta(days=25)), today)
        consultations.publish(uow, official, act.id, today, rules)
        consultations.create(uow, official, ConsultationIn(
            form="proposal", title=f"Нічні рейси до мікрорайону Хмільники {MARK}", category=17,
            question="Чи потрібні нічні рейси до мікрорайону Хмільники?",
            alternatives=[{"text": "Так, щодня"}, {"text": "Лише у вихідні"}]), today)
        consultations.create(uow, resident, ConsultationIn(
            form="proposal", title=f"Велодоріжка вздовж річки Уж {MARK}", category=15,
            question="Чи підтримуєте ви облаштування велодоріжки вздовж річки Уж?",
            alternatives=[{"text": "Підтримую"}, {"text": "Не підтримую"}]), today)
        year = today.year
        plan.add(uow, official, year, PlanEntryIn(title=f"Стратегія розвитку громади до 2035 {MARK}",
                                                  category=5, planned_quarter=4))
        plan.add(uow, resident, year, PlanEntryIn(title=f"Освітлення вулиць у приватному секторі {MARK}",
                                                  category=15))
    print("demo data loaded: dev-login subjects " + ", ".join(PEOPLE))


if __name__ == "__main__":
    main()
