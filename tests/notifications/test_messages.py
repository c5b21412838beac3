"""The start-day e-mail as it goes on the wire (R-1.10, R-3.4): a message rendered once for a
consultation and filled in per recipient carries exactly what a message composed for that one
recipient carries."""
from email import message_from_bytes, policy

import pytest

from services.notifications import mailer

SENDER = "Електронні консультації <noreply@localhost>"
CONTEXT = {"title": "Тарифи <на> проїзд & паркування", "category": "Транспорт", "starts_on": "01.12.2026",
           "ends_on": "16.12.2026", "url": "https://consult.example/c/1?a=1&b=2", "question": "Чи так?"}
URL = "https://consult.example/api/v1/unsubscribe?token=" + "eyJwIjoi" * 12
HEADERS = ("From", "To", "Subject", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post")


def parsed(raw: bytes):
    msg = message_from_bytes(raw, policy=policy.default)
    return {h: str(msg[h]) for h in HEADERS}, [part.get_content() for part in msg.iter_parts()]


@pytest.mark.parametrize("name", ["Мешканка Ганна Олександрівна Коваленко-Шевченко", "Ann O'Neil, Jr.",
                                  "Олег & <Ко>", "Мешканець 12345", "Я" * 300])
def test_r_1_10_a_prepared_message_carries_what_a_composed_one_does(name):
    prepared = mailer.Prepared(SENDER, "Розпочато консультацію: Тарифи", "consultation_published", CONTEXT)
    raw = prepared.build(name, "hanna@example.org", "<delivery-7.x@econsult>", URL)
    composed = mailer.compose(SENDER, name, "hanna@example.org", "Розпочато консультацію: Тарифи",
                              "consultation_published", CONTEXT, "<delivery-7.x@econsult>", URL).as_bytes()
    assert parsed(raw) == parsed(composed)
    assert f"List-Unsubscribe: <{URL}>\r\n".encode() in raw  # RFC 8058: a plain URL
    assert all(len(line) <= 998 for line in raw.split(b"\r\n")) and b"\n" not in raw.replace(b"\r\n", b"")
    assert prepared.envelope_from == "noreply@localhost"


def test_r_1_10_a_prepared_digest_carries_what_a_composed_one_does():
    context = {"day": "01.12.2026", "count": 1, "groups": [{"category": "Транспорт", "items": [CONTEXT]}]}
    prepared = mailer.Prepared(SENDER, "Щоденний дайджест", "daily_digest", context)
    raw = prepared.build("Мешканка Ганна", "hanna@example.org", "<delivery-8.digest@econsult>", URL)
    composed = mailer.compose(SENDER, "Мешканка Ганна", "hanna@example.org", "Щоденний дайджест", "daily_digest",
                              context, "<delivery-8.digest@econsult>", URL).as_bytes()
    assert parsed(raw) == parsed(composed)


@pytest.mark.parametrize("name,address", [("Ганна\nBcc: victim@evil.example", "hanna@example.org"),
                                          ("Ганна", "hanna@example.org\r\nBcc: victim@evil.example")])
def test_r_1_10_a_line_break_in_a_recipients_header_is_refused(name, address):
    prepared = mailer.Prepared(SENDER, "Розпочато консультацію: Тарифи", "consultation_published", CONTEXT)
    with pytest.raises(ValueError):
        prepared.build(name, address, "<delivery-9.x@econsult>", URL)


def test_r_1_10_a_line_break_in_the_title_makes_the_message_unbuildable():
    with pytest.raises(ValueError):
        mailer.Prepared(SENDER, "Розпочато консультацію: Стара\nBcc: victim@evil.example", "consultation_published",
                        CONTEXT)


def test_r_1_10_the_html_part_escapes_what_the_consultation_says():
    _, (text, html) = parsed(mailer.Prepared(SENDER, "Тарифи", "consultation_published", CONTEXT).build(
        "Ганна", "hanna@example.org", "<delivery-10.x@econsult>", URL))
    assert "Тарифи <на> проїзд & паркування" in text
    assert "Тарифи &lt;на&gt; проїзд &amp; паркування" in html and "<на>" not in html
    assert 'href="https://consult.example/c/1?a=1&amp;b=2"' in html
