"""The accessibility statement («Заява про доступність», ДСТУ EN 301 549:2022, WCAG 2.2 AA) and the
footer link to it on every page, rendered by the gateway without a running system
(docs/accessibility.md). The browser tests check the pages themselves with axe-core."""
from __future__ import annotations

import re
from pathlib import Path

from chassis.settings import Settings
from gateway.app import create_app
from gateway.web import views_public
from tests.support import browser

STATEMENT = "/accessibility"
TEMPLATES = Path(views_public.__file__).parent / "templates" / "web"


def client(**settings):
    return create_app(Settings(auth_dev_login=True, **settings)).test_client()


def test_the_statement_names_the_standard_status_limitations_contact_and_date():
    r = client(accessibility_email="dostupnist@misto.example", accessibility_phone="+380 4142 0 00 00").get(STATEMENT)
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert "<h1>Заява про доступність</h1>" in html and '<html lang="uk">' in html
    assert "ДСТУ EN 301 549:2022" in html and "WCAG 2.2" in html
    assert "частково відповідає" in html
    assert "Відомі обмеження" in html and "PDF" in html
    assert 'href="mailto:dostupnist@misto.example"' in html and 'href="tel:+380414200000"' in html
    reviewed = views_public.STATEMENT_REVIEWED
    assert f'<time datetime="{reviewed.isoformat()}">{reviewed:%d.%m.%Y}</time>' in html


def test_without_a_phone_only_the_email_is_offered():
    html = client().get(STATEMENT).get_data(as_text=True)
    assert 'href="mailto:accessibility@localhost"' in html and "tel:" not in html


def test_the_statement_names_the_axe_core_release_the_browser_tests_run():
    assert views_public.AXE_CORE == browser.AXE_VERSION
    assert f"axe-core {browser.AXE_VERSION}" in client().get(STATEMENT).get_data(as_text=True)


def test_every_page_links_the_statement_from_its_footer():
    c = client()
    for path in ("/login", STATEMENT):
        html = c.get(path).get_data(as_text=True)
        footer = re.search(r'<footer class="site">.*?</footer>', html, flags=re.S)
        assert footer and f'<a href="{STATEMENT}">Заява про доступність</a>' in footer.group(0), path
    # the footer is base.html's, and every page template extends it
    pages = [p for p in TEMPLATES.glob("*.html") if p.name not in ("base.html", "macros.html")]
    assert len(pages) > 10
    for p in pages:
        assert p.read_text(encoding="utf-8").startswith('{% extends "web/base.html" %}'), p.name
