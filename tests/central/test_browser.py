"""The officer's pages in a real browser: headless Debian Chromium driven by Playwright
(never a downloaded browser). Logs in as an officer, opens the queue, views the evidence,
tickets one, dismisses one with a reason, sees the queue update live, and checks that a
warden is refused. Screenshots of the queue and event pages go to artifacts/."""

from __future__ import annotations

import pytest

from central.testing.browser import serving
from central.testing.centres import PASSWORD, add_users, open_centre
from central.testing.records import ingest_violation
from central.web import create_app


@pytest.fixture
def server(tmp_path):
    with open_centre("sqlite", tmp_path, review_window_s=900, queue_poll_ms=300) as centre:
        add_users(centre)
        ingest_violation(centre, "ep-school-1")
        centre.clock.advance(seconds=30)
        ingest_violation(centre, "ep-school-2", plate=None)
        with serving(create_app(centre, run_scheduler=False)) as url:
            yield centre, url


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_officer_reviews_in_the_browser(server, browser, artifacts):
    centre, base = server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _login(page, base, "olga")
    page.wait_for_url(f"{base}/queue")
    rows = page.locator("#queue tr.row")
    assert rows.count() == 2
    assert rows.nth(0).get_attribute("data-episode") == "ep-school-1"
    page.screenshot(path=str(artifacts / "central-queue.png"), full_page=True)

    # Live update: a new violation appears without a reload.
    ingest_violation(centre, "ep-school-3", with_evidence=False)
    page.wait_for_selector('tr[data-episode="ep-school-3"]', timeout=10_000)

    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/episodes/ep-school-1")
    images = page.locator("img.evidence")
    assert images.count() == 5
    page.wait_for_function(
        "Array.from(document.querySelectorAll('img.evidence'))"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    assert "沪A·12345" in page.inner_text(".plate")
    assert page.locator("text=Warning 2: no parking at the school gate.").count() == 1
    page.screenshot(path=str(artifacts / "central-event.png"), full_page=True)

    page.keyboard.press("t")  # ticket, and on to the next review
    page.wait_for_url(f"{base}/episodes/ep-school-2")
    page.click("button[value=loading_permit]")
    page.wait_for_url(f"{base}/episodes/ep-school-3")

    page.goto(f"{base}/episodes/ep-school-1")
    assert page.inner_text("#state") == "ticketed"
    assert page.inner_text("#ticket-number").startswith("RG-")
    page.goto(f"{base}/episodes/ep-school-2")
    assert page.inner_text("#state") == "dismissed"
    assert "Loading permit" in page.inner_text("table.audit")
    page.goto(f"{base}/queue")
    assert [r.get_attribute("data-episode") for r in page.locator("#queue tr.row").all()] == [
        "ep-school-3"
    ]


def test_overdue_reviews_are_impossible_to_miss(server, browser, artifacts):
    centre, base = server
    centre.clock.advance(seconds=880)  # only ep-school-1 is past its deadline (not escalated)
    page = browser.new_page(viewport={"width": 1280, "height": 700})
    _login(page, base, "olga")
    page.wait_for_url(f"{base}/queue")
    assert "1 overdue review" in page.inner_text("#overdue-banner")
    assert "OVERDUE" in page.inner_text('tr[data-episode="ep-school-1"]')
    page.screenshot(path=str(artifacts / "central-queue-overdue.png"), full_page=True)


def test_a_warden_is_refused(server, browser):
    _, base = server
    page = browser.new_page()
    _login(page, base, "walt")
    page.wait_for_url(f"{base}/me")
    response = page.goto(f"{base}/queue")
    assert response.status == 403
    assert "Not allowed" in page.inner_text("h1")
    response = page.goto(f"{base}/episodes/ep-school-1")
    assert response.status == 403


def test_the_evidence_viewer_steps_through_the_pictures(server, browser, artifacts):
    centre, base = server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _login(page, base, "olga")
    page.wait_for_url(f"{base}/queue")
    page.goto(f"{base}/episodes/ep-school-1")
    links = page.locator("a.zoom")
    hrefs = [base + links.nth(i).get_attribute("href") for i in range(links.count())]
    assert len(hrefs) == 5  # two warnings (frame and crop each) and the violation's frame
    alts = [page.locator("a.zoom img").nth(i).get_attribute("alt") for i in range(5)]
    assert all(".jpg" not in alt for alt in alts)
    assert alts[0] == "Warning 1: the whole picture, the vehicle boxed and the zone drawn"
    assert alts[1] == "Warning 1: the vehicle, close up"
    frame = page.locator("figure.frame img").first.bounding_box()
    assert frame["width"] >= 600  # large enough to read

    links.first.click()
    viewer = page.locator("#viewer")
    assert viewer.is_visible()
    assert page.get_attribute("#viewer-image", "src") == hrefs[0]
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#viewer-image", "src") == hrefs[1]
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")  # wraps round to the last picture
    assert page.get_attribute("#viewer-image", "src") == hrefs[-1]
    assert "Violation" in page.inner_text("#viewer-caption")
    page.keyboard.press("t")  # the page's keys are off while viewing: no ticket
    page.screenshot(path=str(artifacts / "central-evidence-viewer.png"))
    page.keyboard.press("Escape")
    assert not viewer.is_visible()
    assert page.inner_text("#state") == "pending review"
