"""The demo consultations of `make demo`: a consultation of each form in different states, an
initiative on moderation, plan entries, written through this service's own handlers into its
database before the service starts; events wait in the outbox and go out once it is up.

    python -m services.consultations.seed < principals.json

Input: ``{"official": Principal, "resident": Principal}`` as JSON (from ``services.registry.seed``).
Prints "demo data loaded" or, when the set is there already, "demo data already loaded" and writes
nothing.
"""
from __future__ import annotations

import json
import sys
from datetime import date, timedelta

from chassis.db import Db, make_engine
from chassis.log import configure_logging
from chassis.store import OpenUnit
from chassis.workdays import local_today
from contracts.consultations import ConsultationIn, PlanEntryIn
from contracts.identity import Principal
from services.consultations.handlers import drafting as consultations
from services.consultations.handlers import plan
from services.consultations.rules import Rules
from services.consultations.store import Store as ConsultationsStore

MARK = "[demo]"

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
    configure_logging("consultations-seed")
    who = {k: Principal.model_validate(v) for k, v in json.loads(sys.stdin.read()).items()}
    con = Db(make_engine("consultations"))
    with con.transaction() as s:
        if ConsultationsStore(s).any_titled_like(f"%{MARK}"):
            print("demo data already loaded")
            return
    today = local_today()
    rules = Rules()
    official, resident = who["official"], who["resident"]
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
    print("demo data loaded")


if __name__ == "__main__":
    main()
