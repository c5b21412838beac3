"""Shared by the browser tests (tests/e2e/test_web_*.py): Debian's Chromium through Playwright, the
dev-login + consent steps as a person does them, axe-core from the npm registry and screenshots at
phone and desktop widths into var/screenshots/."""
from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from tests.support.cluster import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE_DIR = ROOT / "var" / "axe"
SHOTS = ROOT / "var" / "screenshots"
SIZES = {"phone": (375, 812), "desktop": (1280, 800)}


def axe_script() -> Path:
    """axe-core 4 from the npm registry, unpacked under var/ (not committed)."""
    script = AXE_DIR / "package" / "axe.min.js"
    if not script.exists():
        AXE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "pack", "axe-core@4", "--silent"], cwd=AXE_DIR, check=True, timeout=120,
                       capture_output=True)
        tarball = sorted(AXE_DIR.glob("axe-core-*.tgz"))[-1]
        subprocess.run(["tar", "xzf", tarball.name], cwd=AXE_DIR, check=True)
    return script


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser):
    contexts = []

    def make(width: int = 1280, height: int = 800):
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale="uk-UA")
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


def login(page, base: str, full_name: str, roles=("resident",), unit: str | None = None, next_path: str = "/"):
    """The dev-login form, then the consent step, as a person would do it."""
    page.goto(f"{base}/login?next={next_path}")
    page.get_by_label("Ідентифікатор (subject)").fill(f"web-{uuid.uuid4().hex[:10]}")
    page.get_by_label("Прізвище, ім'я, по батькові").fill(full_name)
    page.get_by_label("Дата народження").fill("1990-05-17")
    for role in ("resident", "institution_head", "official", "moderator"):
        box = page.locator(f"#role-{role}")
        box.set_checked(role in roles)
    if unit:
        page.get_by_label("Структурний підрозділ (для посадової особи)").fill(unit)
    page.get_by_role("button", name="Увійти", exact=True).click()
    assert "/me/consent" in page.url
    page.get_by_label("Я погоджуюся на обробку моїх персональних даних на цих умовах").check()
    page.get_by_role("button", name="Надати згоду").click()
    page.wait_for_load_state()
    assert page.url.endswith(next_path), page.url


def check_axe(page, name: str) -> None:
    # Evaluated through the DevTools protocol, not as an inline <script>: the pages' CSP
    # (`default-src 'self'`, gateway/abuse.py) stays in force and would refuse add_script_tag.
    page.evaluate(axe_script().read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
           if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: {bad}"


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, (w, h) in SIZES.items():
        page.set_viewport_size({"width": w, "height": h})
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
