"""What the tests send: a consultation draft and a complete notice, two versions of a draft act, a PDF
and an archive that inflates far beyond its size."""
from __future__ import annotations

import io
import zipfile

FULL_NOTICE = {
    "holder": "Виконавчий комітет Коростенської міської ради",
    "materials": "Розрахунок собівартості перевезень, додано до оголошення",
    "stakeholders": "Пасажири міських автобусних маршрутів, перевізники",
    "consequences": "Зміна вартості проїзду для пасажирів",
    "procedure": "Пропозиції подаються через веб-сервіс до дати завершення",
    "participation": "Оголошення у транспорті та на сайті ради",
    "responsible_official": "Петренко Іван Іванович",
    "results_publication": "Звіт буде оприлюднено протягом 15 днів після завершення",
}


def draft_body(**over) -> dict:
    body = {"form": "proposal", "title": "Тарифи на проїзд у 2027 році",
            "question": "Чи підтримуєте ви зміну тарифу на проїзд у міських автобусах?", "category": 17,
            "alternatives": [{"text": "Залишити 12 грн"}, {"text": "Підняти до 15 грн з пільгами"}]}
    body.update(over)
    return body


V1 = """1. Встановити тариф на проїзд 12 гривень.

2. Пільги для студентів зберігаються.

3. Рішення набирає чинності з 1 січня."""

V2 = """1. Встановити тариф на проїзд 15 гривень.

2. Пільги для студентів зберігаються.

2-1. Пільги для пенсіонерів запроваджуються.

3. Рішення набирає чинності з 1 березня."""

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n" + "Розрахунок тарифу".encode() * 50


def bomb(inflated_mb: int = 200) -> bytes:
    """An ODT-looking archive whose `mimetype` entry inflates to ``inflated_mb`` MiB."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("mimetype")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as f:
            chunk = b"\0" * (1 << 20)
            for _ in range(inflated_mb):
                f.write(chunk)
    return buf.getvalue()


def edrpou() -> str:
    """A fresh valid ЄДРПОУ code (random seven digits and their check digit): one institution per code."""
    import random

    from contracts.registry import edrpou_check_digit

    while True:
        code = f"{random.randrange(10 ** 7):07d}0"
        digit = edrpou_check_digit(code)
        if edrpou_check_digit(code[:7] + str(digit)) == digit:  # the range (and weights) may move with the digit
            return code[:7] + str(digit)
