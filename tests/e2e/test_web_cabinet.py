"""The cabinet page's e-mail choice (R-1.10, R-3.4): a resident picks the daily digest
in a real browser and the registry holds it; the page shows the choice back."""
from __future__ import annotations

import pytest

from tests.support.browser import browser, login, new_page  # noqa: F401 (fixtures)

pytestmark = pytest.mark.system


def test_resident_chooses_the_daily_digest_in_the_cabinet(system, new_page):
    """Clause R-1.10."""
    base = system.base_url
    page = new_page(375, 812)
    login(page, base, "Мешканець Дайджест Петро", next_path="/me")
    immediate = page.get_by_label("Окремий лист про кожну консультацію в день її початку")
    digest = page.get_by_label("Один лист наприкінці дня з усіма консультаціями, що розпочалися, за сферами")
    assert immediate.is_checked() and not digest.is_checked()  # the default
    page.get_by_label("Електронна пошта").fill("petro.digest@example.com")
    digest.check()
    page.get_by_role("button", name="Зберегти").click()
    assert "Зміни збережено" in page.locator(".flash").inner_text()
    me = page.request.get(f"{base}/api/v1/me").json()  # the same browser session, through the API
    assert me["email_mode"] == "daily_digest" and me["email"] == "petro.digest@example.com"
    assert page.get_by_label("Один лист наприкінці дня з усіма консультаціями, що розпочалися, за сферами").is_checked()
