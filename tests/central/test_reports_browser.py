"""A warden's phone in a real browser (headless Debian Chromium, 390×844, touch): files an
urgent report with a photo carrying EXIF GPS; the first send fails (no connection) and
nothing typed is lost, not even across a reload; the second send goes through. The squad's
officer sees it appear live; nobody acknowledges; after the deadline (fake clock, the real
scheduler thread) it is in the supervisor's escalated queue. Screenshots go to artifacts/."""

from __future__ import annotations

import pytest

from central.models import WardenReport
from central.reports.media import jpeg_with_gps
from central.testing.browser import serving
from central.testing.centres import PASSWORD, add_report_users, open_centre
from central.web import create_app

PHOTO_AT = (31.093712, 121.248388)
PHONE_AT = (30.5, 120.5)  # the phone has walked on since the photo


@pytest.fixture
def server(tmp_path):
    """The app with its deadline scheduler thread on a fake clock, on a real socket."""
    with open_centre("sqlite", tmp_path, queue_poll_ms=300) as centre:
        add_report_users(centre)
        app = create_app(centre)  # with the deadline scheduler
        with serving(app) as url:
            yield centre, app, url


def _login(page, base: str, username: str, lands_on: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{lands_on}")


def _escalation(centre, report_id: int) -> int:
    with centre.db.session() as session:
        return session.get(WardenReport, report_id).escalation_level


def test_warden_files_urgent_report_from_a_phone_and_it_escalates(
    server, browser, tmp_path, artifacts
):
    centre, app, base = server

    desk = browser.new_context(viewport={"width": 1280, "height": 800})
    officer = desk.new_page()
    _login(officer, base, "olga", "/queue")
    reviewing = desk.new_page()  # a second tab of the same officer, on the review queue
    reviewing.goto(f"{base}/queue")
    reviewing.wait_for_function("document.getElementById('urgent-alert') !== null")
    officer.goto(f"{base}/reports/inbox")
    assert officer.locator("#queue tr.row").count() == 0
    assert reviewing.locator("#urgent-alert").is_hidden()  # nothing urgent yet

    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": PHONE_AT[0], "longitude": PHONE_AT[1], "accuracy": 12},
        permissions=["geolocation"],
    )
    warden = phone.new_page()
    _login(warden, base, "walt", "/me")
    warden.click("a.big-link")
    warden.wait_for_url(f"{base}/reports/new")
    warden.wait_for_function("document.getElementById('lat').value !== ''")  # phone position
    assert "Phone position" in warden.inner_text("#geo-status")
    assert warden.locator("fieldset[data-category=drunk_driving]").is_hidden()
    warden.tap("label:has(#cat-drunk_driving)")
    assert warden.locator("fieldset[data-category=drunk_driving]").is_visible()
    assert warden.locator("fieldset[data-category=accident]").is_hidden()
    warden.fill("#attr-drunk_driving-vehicle", "white pickup, muddy")
    warden.select_option("#attr-drunk_driving-behaviour", "swerving")
    warden.fill("#description", "Swerving across the bridge towards the school")
    photo = {"name": "image.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps(*PHOTO_AT)}
    warden.set_input_files("#media", photo)

    # A slow, failing link: the send never reaches the centre.
    def no_connection(route):
        if route.request.method == "POST":
            route.abort("internetdisconnected")
        else:
            route.continue_()

    warden.route("**/reports/new", no_connection)
    warden.click("#send")
    warden.wait_for_selector("#send-status.error")
    assert "Not sent" in warden.inner_text("#send-status")
    assert warden.input_value("#attr-drunk_driving-vehicle") == "white pickup, muddy"
    assert warden.eval_on_selector("#media", "el => el.files.length") == 1
    warden.screenshot(path=str(artifacts / "reports-phone-send-failed.png"), full_page=True)
    with centre.db.session() as session:
        assert session.query(WardenReport).count() == 0

    # Even a reload (or a closed tab) keeps the typing: it is in localStorage.
    warden.reload()
    assert warden.is_checked("#cat-drunk_driving")
    assert warden.input_value("#attr-drunk_driving-vehicle") == "white pickup, muddy"
    assert warden.input_value("#attr-drunk_driving-behaviour") == "swerving"
    assert "towards the school" in warden.input_value("#description")
    warden.unroute("**/reports/new")
    warden.set_input_files("#media", photo)  # a browser never restores a file input
    warden.screenshot(path=str(artifacts / "reports-phone-form.png"), full_page=True)
    warden.click("#send")
    warden.wait_for_url(f"{base}/me?filed=*")
    report_id = int(warden.url.rsplit("=", 1)[1])
    assert "Suspected drunk driving" in warden.inner_text(f'li[data-report="{report_id}"]')
    assert warden.evaluate("localStorage.getItem('roadguard-report-draft')") is None
    warden.screenshot(path=str(artifacts / "reports-phone-my-reports.png"), full_page=True)

    # The squad's officer sees it without reloading, on the reports page and on any other.
    officer.wait_for_selector(f'#queue tr[data-report="{report_id}"]', timeout=10_000)
    assert "urgent report" in officer.inner_text("#urgent-banner")
    reviewing.wait_for_selector("#urgent-alert:not([hidden])", timeout=10_000)
    assert "1 urgent field report waits" in reviewing.inner_text("#urgent-alert")
    officer.screenshot(path=str(artifacts / "reports-officer-inbox-live.png"), full_page=True)

    with centre.db.session() as session:
        report = session.get(WardenReport, report_id)
        assert (report.lat, report.long) == pytest.approx(PHOTO_AT, abs=1e-5)
        assert report.location_source == "exif"  # the photo's position beats the phone's

    # Nobody acknowledges. Three minutes later (fake clock) the scheduler escalates it.
    scheduler = app.state.scheduler
    centre.clock.advance(seconds=181)
    with scheduler.ticked:
        assert scheduler.ticked.wait_for(lambda: _escalation(centre, report_id) == 1, 10)

    supervisor = browser.new_page(viewport={"width": 1280, "height": 800})
    _login(supervisor, base, "sam", "/escalated")  # a supervisor lands on the escalations
    assert "1 escalated field report waits for you" in supervisor.inner_text("#escalated-reports")
    supervisor.click("#escalated-reports a")
    supervisor.wait_for_url(f"{base}/reports/escalated")
    row = supervisor.locator(f'#queue tr[data-report="{report_id}"]')
    assert "escalated to supervisor" in row.inner_text()
    supervisor.screenshot(path=str(artifacts / "reports-supervisor-escalated.png"), full_page=True)
    supervisor.click(f'#queue tr[data-report="{report_id}"] a')
    supervisor.wait_for_url(f"{base}/reports/{report_id}")
    supervisor.wait_for_function(
        "document.getElementById('report-photo').complete"
        " && document.getElementById('report-photo').naturalWidth > 0"
    )
    assert "(GPS in the photo)" in supervisor.inner_text("#where")
    supervisor.screenshot(path=str(artifacts / "reports-supervisor-report.png"), full_page=True)
    phone.close()
