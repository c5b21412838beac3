"""The e-mail as it goes on the wire (R-3.4): RFC 8058 headers stay plain, lines end in CRLF."""
from services.notifications import mailer


def test_unsubscribe_header_stays_a_plain_url_on_the_wire():
    url = "https://consult.korosten.example/api/v1/unsubscribe?token=" + "eyJwIjoi" * 20
    msg = mailer.compose("Електронні консультації <noreply@localhost>", "Мешканка Ганна", "hanna@example.org",
                         "Розпочато консультацію: Тарифи", "consultation_published",
                         {"title": "Тарифи", "category": "Тарифи", "starts_on": "01.12.2026",
                          "ends_on": "16.12.2026", "url": "https://consult.korosten.example/c/1", "question": ""},
                         "<delivery-1.x@econsult>", url)
    raw = msg.as_bytes()
    assert f"List-Unsubscribe: <{url}>\r\n".encode() in raw
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
    assert b"=?utf-8?q?=3C" not in raw
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")
