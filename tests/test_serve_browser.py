"""The page of ``autorec serve`` in a real browser: headless Chromium (Debian's
``chromium`` package, which ``.ci/run`` installs) driven by Playwright searches "Toy
Story", gives it 5 stars and sees ten recommendations, each with a reason.

Skipped, with the reason, where Playwright, Chromium or FastAPI/uvicorn are missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time

import numpy as np
import pandas as pd
import pytest

from autorec import AutoEncoderRecommender
from autorec.datasets import make_ratings

pytest.importorskip("fastapi", reason="autorec serve needs the [serve] extra (fastapi)")
uvicorn = pytest.importorskip("uvicorn", reason="autorec serve needs the [serve] extra")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the browser test needs playwright (the [test] extra)"
)

from autorec.serve import create_app  # noqa: E402

CHROMIUM = os.environ.get("AUTOREC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(
        f"no Chromium at {CHROMIUM} (apt-get install chromium, or set AUTOREC_CHROMIUM)",
        allow_module_level=True,
    )
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

RATINGS = make_ratings(n_users=150, n_items=60, n_ratings=4000, random_state=2)
ITEMS = np.sort(RATINGS.item_id.unique())
MOVIES = pd.DataFrame(
    {
        "item_id": ITEMS,
        "title": ["Toy Story (1995)" if i == ITEMS[0] else f"Film {i} (19{50 + i % 50})"
                  for i in ITEMS],
        "genres": ["Animation|Children's|Comedy" if i % 2 else "Drama" for i in ITEMS],
    }
)  # fmt: skip


@pytest.fixture(scope="module")
def server(one_torch_thread):
    model = AutoEncoderRecommender(hidden_layers=(12,), epochs=8, random_state=0).fit(RATINGS)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(model, MOVIES), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Exception as exc:  # a browser that does not start: say why
            pytest.skip(f"Chromium at {CHROMIUM} did not start: {str(exc).splitlines()[0]}")
        yield chromium
        chromium.close()


def _rate_toy_story(page, url):
    page.goto(url + "/")
    # Functions, not expressions: the page's Content-Security-Policy forbids eval.
    page.wait_for_function("() => document.querySelectorAll('#results li').length > 0")
    page.fill("#search", "Toy Story")
    # the search has answered when every movie listed is a match
    page.wait_for_function(
        "() => [...document.querySelectorAll('#results li')].every(li => "
        "li.textContent.includes('Toy Story'))"
    )
    row = page.locator("#results li", has_text="Toy Story")
    row.locator("button.star[data-value='5']").click()
    page.wait_for_function("() => document.querySelectorAll('#recs li.rec').length === 10")


def test_rate_toy_story_and_see_ten_reasons(server, browser):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _rate_toy_story(page, server)
    recs = page.locator("#recs li.rec")
    assert recs.count() == 10
    rated = page.locator("#rated li").all_inner_texts()
    assert len(rated) == 1 and "Toy Story" in rated[0]
    for i in range(10):
        text = recs.nth(i).inner_text()
        because = recs.nth(i).locator(".because").inner_text()
        assert because.startswith("Because you rated") and "Toy Story" in because, because
        assert "ratings" in text and "Toy Story" not in text.split("\n")[1]  # not itself
    first = recs.nth(0).inner_text()
    assert any(f"19{n}" in first for n in range(50, 100))  # its year
    assert "5 stars" in page.locator("#rated button.star.on").last.get_attribute("aria-label")
    assert errors == []
    # The ratings survive a reload (kept in the browser) and the list comes back.
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#recs li.rec').length === 10")
    page.close()


def test_the_page_fits_a_phone(server, browser):
    page = browser.new_page(viewport={"width": 375, "height": 740}, is_mobile=True)
    _rate_toy_story(page, server)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a phone's screen"
    star = page.locator("#results button.star").first.bounding_box()
    assert star["width"] >= 24 and star["height"] >= 24  # big enough to tap
    page.close()
