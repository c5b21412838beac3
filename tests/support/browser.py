"""Shared by the browser tests (tests/e2e/test_web_*.py and every other test that drives a page):
Debian's Chromium through Playwright, the dev-login + consent steps as a person does them,
axe-core's WCAG 2.2 AA checks, keyboard-only steps and screenshots at phone and desktop widths
into var/screenshots/.

Accessibility (docs/accessibility.md):

* every page made by the ``new_page`` fixture is checked by axe-core automatically: each new
  document once it has loaded, and for certain before the test's next action on it (a Playwright
  locator handler), and every page once more when the test ends; the violations fail the test, listed;
* ``check_axe(page, name)`` checks the page as it is now (after an interaction that loaded no new
  document: a ``<details>`` opened, keyboard steps) and fails at once;
* ``tab_to(page, locator)`` presses Tab until the locator has the focus, checking at every stop that
  the focus is visible and not hidden (WCAG 2.4.7, 2.4.11).
"""
from __future__ import annotations

import base64
import fcntl
import hashlib
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.support.cluster import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = ROOT / "var" / "screenshots"
SIZES = {"phone": (375, 812), "desktop": (1280, 800)}

# axe-core from the npm registry, pinned: the version and the tarball's sha512 (npm's `dist.integrity`,
# `npm view axe-core@VERSION dist.integrity`). Fetched on first use into var/axe/VERSION/ (not committed).
AXE_VERSION = "4.14.1"
AXE_INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
AXE_DIR = ROOT / "var" / "axe" / AXE_VERSION
# WCAG 2.0, 2.1 and 2.2, levels A and AA, and the structural best practices the WCAG rules leave out
# (landmarks, one <h1>, heading order), which docs/web.md promises.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_EXTRA_RULES = ["landmark-one-main", "landmark-unique", "landmark-no-duplicate-banner",
                   "landmark-no-duplicate-contentinfo", "landmark-no-duplicate-main", "region",
                   "page-has-heading-one", "heading-order", "empty-heading", "skip-link"]
_AXE_OPTIONS = {"runOnly": {"type": "tag", "values": AXE_TAGS},
                "rules": {rule: {"enabled": True} for rule in AXE_EXTRA_RULES},
                "resultTypes": ["violations"]}
CHECKED = "data-axe-checked"  # set on <body> once axe has looked at that document


def axe_script() -> Path:
    """axe.min.js of AXE_VERSION, fetched with `npm pack` once (a lock keeps pytest-xdist workers from
    unpacking it at the same time) and refused unless the tarball has the pinned sha512."""
    script = AXE_DIR / "package" / "axe.min.js"
    if script.exists():
        return script
    AXE_DIR.mkdir(parents=True, exist_ok=True)
    with open(AXE_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not script.exists():
            tarball = AXE_DIR / f"axe-core-{AXE_VERSION}.tgz"
            if not tarball.exists():
                subprocess.run(["npm", "pack", f"axe-core@{AXE_VERSION}", "--silent"], cwd=AXE_DIR, check=True,
                               timeout=120, capture_output=True)
            digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
            if digest != AXE_INTEGRITY:
                tarball.unlink()
                raise AssertionError(f"axe-core {AXE_VERSION}: tarball sha512 {digest} is not the pinned one")
            subprocess.run(["tar", "xzf", tarball.name], cwd=AXE_DIR, check=True)
    return script


def _axe_source() -> str:
    global _AXE_SOURCE
    if _AXE_SOURCE is None:
        _AXE_SOURCE = axe_script().read_text(encoding="utf-8")
    return _AXE_SOURCE


_AXE_SOURCE: str | None = None


def axe_violations(page) -> list[dict]:
    """axe-core's violations of the page as it is now (an HTML document of ours; others: none).

    axe is evaluated through the DevTools protocol, not added as a <script>: the pages' CSP
    (`default-src 'self'`, gateway/abuse.py) stays in force and would refuse an inline script."""
    if page.evaluate("() => document.contentType") != "text/html" or not page.url.startswith("http"):
        return []
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate("if (typeof window.axe !== 'object') {\n" + _axe_source() + "\n}\n;undefined")
    result = page.evaluate(_AXE_RUN, _AXE_OPTIONS)
    return result["violations"]


# one axe run at a time in a document (axe refuses a second while one runs): the runs queue up
_AXE_RUN = f"""async (options) => {{
  const run = (window.__axeQueue || Promise.resolve()).catch(() => null).then(() => axe.run(document, options));
  window.__axeQueue = run;
  const result = await run;
  if (document.body) document.body.setAttribute('{CHECKED}', '1');
  return result;
}}"""


def describe(name: str, url: str, violations: list[dict]) -> str:
    lines = [f"{name} ({url}): {len(violations)} WCAG violation(s), axe-core {AXE_VERSION}"]
    for v in violations:
        lines.append(f"  {v['id']} [{v['impact']}] {v['help']} ({', '.join(t for t in v['tags'] if t.startswith('wcag'))})")
        for node in v["nodes"][:5]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    {' '.join(map(str, node['target']))}: {summary[:300]}")
        if len(v["nodes"]) > 5:
            lines.append(f"    … and {len(v['nodes']) - 5} more")
    return "\n".join(lines)


def check_axe(page, name: str) -> None:
    """Fails with the list of violations if the page as it is now breaks a WCAG 2.2 A/AA rule (or the
    structural best practices above); also reports what the automatic checks of this page found."""
    page.wait_for_load_state()
    found = getattr(page, "_axe_found", [])
    violations = axe_violations(page)
    reports = found + ([describe(name, page.url, violations)] if violations else [])
    found.clear()
    assert not reports, "\n".join(reports)


def _watch(page) -> None:
    """Check every new document of ``page``: as soon as it has loaded (beside the test, so a test that
    navigates on at once may cut that run short), and for certain before the test's next action on it
    (a locator handler runs when <body> lacks the mark, i.e. on a document axe has not finished with).
    What they find is kept and fails the test at its next ``check_axe`` or at its end (an exception in
    a handler would be lost)."""
    page._axe_found, seen = [], set()

    def keep(when: str, url: str, violations: list[dict]) -> None:
        key = (url, tuple(sorted(v["id"] for v in violations)))
        if violations and key not in seen:  # the same document seen by both checks: once
            seen.add(key)
            page._axe_found.append(describe(when, url, violations))

    def on_load(_page) -> None:
        try:
            url, violations = page.url, axe_violations(page)
        except Exception:  # the test moved on (navigation, closed page): the locator handler has it
            return
        keep("on load", url, violations)

    def before_action(_locator) -> None:
        keep("before the next action", page.url, axe_violations(page))
        page.evaluate(f"() => document.body && document.body.setAttribute('{CHECKED}', '1')")

    page.on("load", on_load)
    page.add_locator_handler(page.locator(f"body:not([{CHECKED}])"), before_action)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser):
    """``new_page(width, height)``: a page in a fresh context, watched by axe (see above)."""
    contexts, pages = [], []

    def make(width: int = 1280, height: int = 800):
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale="uk-UA")
        # an action's wait includes the axe run before it (the locator handler above); the first
        # run of a browser on a machine busy with the rest of the suite took over 15 s
        ctx.set_default_timeout(30_000)
        contexts.append(ctx)
        page = ctx.new_page()
        _watch(page)
        pages.append(page)
        return page

    yield make
    reports = []
    for page in pages:
        if page.is_closed():
            continue
        try:
            if page.evaluate(f"() => !!document.body && !document.body.hasAttribute('{CHECKED}')"):
                violations = axe_violations(page)
                if violations:
                    page._axe_found.append(describe("at the end of the test", page.url, violations))
        finally:
            reports += page._axe_found
    for ctx in contexts:
        ctx.close()
    assert not reports, "\n".join(reports)


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


# ---- keyboard only (WCAG 2.1.1, 2.4.3, 2.4.7, 2.4.11) -------------------------------------------

_FOCUS_STATE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {ok: false, why: 'nothing has the focus', what: ''};
  const what = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' «' + (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 40) + '»';
  const s = getComputedStyle(el);
  const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || (s.boxShadow && s.boxShadow !== 'none');
  if (!ring) return {ok: false, why: 'no visible focus indicator (2.4.7)', what};
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return {ok: false, why: 'the focused element has no size', what};
  const x = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1), y = Math.min(Math.max(r.top + r.height / 2, 0), innerHeight - 1);
  if (r.bottom < 0 || r.top > innerHeight || r.right < 0 || r.left > innerWidth) return {ok: false, why: 'outside the viewport (2.4.11)', what};
  const top = document.elementFromPoint(x, y);
  const label = el.labels && [...el.labels].some(l => l.contains(top));
  if (top && !(el.contains(top) || top.contains(el) || label)) return {ok: false, why: 'covered by ' + top.tagName.toLowerCase() + ' (2.4.11)', what};
  return {ok: true, why: '', what};
}"""


def assert_focus_visible(page) -> str:
    """The focused element shows a focus ring and is on screen, not covered; returns its description."""
    state = page.evaluate(_FOCUS_STATE)
    assert state["ok"], f"focus on {state['what']}: {state['why']}"
    return state["what"]


def tab_to(page, target, *, backwards: bool = False, limit: int = 400) -> int:
    """Press Tab (Shift+Tab) until ``target`` (a locator) has the focus; every stop on the way must show
    a visible, unobscured focus. Returns the number of presses; fails after ``limit``."""
    handle = target.element_handle()
    for presses in range(1, limit + 1):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if page.evaluate("() => document.activeElement !== document.body"):
            assert_focus_visible(page)
        if handle.evaluate("el => el === document.activeElement"):
            return presses
    raise AssertionError(f"{limit} presses of Tab did not reach {target}")


def press(page, key: str) -> None:
    """A key that submits a form or follows a link: wait for the next page."""
    with page.expect_navigation():
        page.keyboard.press(key)


def choose_with_arrows(page, select, value: str, limit: int = 6) -> None:
    """A closed list (``<select>``, focused) changes its choice with the arrow keys: ArrowDown
    until ``value`` is chosen."""
    for _ in range(limit):
        if select.input_value() == value:
            break
        page.keyboard.press("ArrowDown")
    assert select.input_value() == value


def skip_to_main(page) -> None:
    """From a freshly loaded page: the first Tab reaches the skip link, visible; Enter moves the focus
    into <main>, so the next Tab lands inside it, past the navigation (WCAG 2.4.1)."""
    page.keyboard.press("Tab")
    assert "Перейти до основного змісту" in assert_focus_visible(page)
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"


def assert_reflows(page, name: str, width: int = 320) -> None:
    """WCAG 1.4.10 Reflow: at 320 CSS px (1280 px at 400 % zoom) nothing scrolls sideways."""
    page.set_viewport_size({"width": width, "height": 640})
    wide = page.evaluate("""() => [document.documentElement.scrollWidth, [...document.querySelectorAll('main *')]
        .filter(el => el.getBoundingClientRect().right > innerWidth + 1).slice(0, 3)
        .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + el.className : ''))]""")
    page.set_viewport_size({"width": 1280, "height": 800})
    assert wide[0] <= width, f"{name}: {wide[0]} px wide at {width} px (1.4.10), e.g. {wide[1]}"


def shoot(page, name: str) -> None:
    """Screenshots at phone and desktop widths, after checking the page reflows at 320 px."""
    assert_reflows(page, name)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, (w, h) in SIZES.items():
        page.set_viewport_size({"width": w, "height": h})
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
