"""The pages as Chinese officers, supervisors and wardens use them: Debian's Chromium (via
Playwright) in the zh-CN locale and the Asia/Shanghai time zone, and again in English,
with every request to anything but the centre blocked. On each page: its language, local
times, no request leaving the centre, no console error, and on a 390 x 844 phone no
sideways scrolling. Screenshots go to artifacts/."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from central.config import UiConfig
from central.places import MapConfig
from central.reports.filing import Submission, file_report
from central.roles import Actor
from central.testing.browser import serving
from central.testing.centres import PASSWORD, open_centre
from central.testing.records import ingest_violation
from central.users import add_user
from central.web import create_app

SCHOOL = (30.101, 120.201)
SITES = "sites:\n- {node_id: demo-node, name: 城关小学门口, lat: 30.101, long: 120.201}\n"
PEOPLE = {  # login: (role, display name, squad)
    "li": ("officer", "李警官", "north"),
    "zhang": ("supervisor", "张主管", None),
    "cun": ("warden", "李村长", "north"),
}
# Words each page must show, per language (the page's own heading or buttons).
WORDS = {
    "zh_CN": {
        "queue": "审核队列",
        "event": "证据",
        "dashboard": "统计看板",
        "escalated": "已升级审核",
        "me": "我的上报",
        "new": "上报什么？",
        "history": "事件",
        "map": "地图",
        "nearby": "附近已有上报",
    },
    "en": {
        "queue": "Review queue",
        "event": "Evidence",
        "dashboard": "Dashboard",
        "escalated": "Escalated reviews",
        "me": "My reports",
        "new": "What is it?",
        "history": "Episodes",
        "map": "Map",
        "nearby": "Already reported near here",
    },
}


@pytest.fixture(params=["zh_CN", "en"])
def site(request, tmp_path):
    language = request.param
    sites = tmp_path / "sites.yaml"
    sites.write_text(SITES, encoding="utf-8")
    ui = UiConfig(default_language=language)
    with open_centre("sqlite", tmp_path, ui=ui, map=MapConfig(sites_file=sites)) as centre:
        with centre.db.session() as session:
            for login, (role, name, squad) in PEOPLE.items():
                township = "小湾村" if role == "warden" else None
                add_user(
                    session, login, PASSWORD, role, centre.clock.now(), name, squad=squad,
                    township=township,
                )  # fmt: skip
        ingest_violation(centre, "ep-gate-1", plate="京A6K327")
        ingest_violation(centre, "ep-gate-2", plate=None)
        fallen_tree = Submission(
            service_code="road_hazard",
            lat=str(SCHOOL[0] + 0.0009),  # 100 m north of the school gate
            long=str(SCHOOL[1]),
            attributes={"hazard": "fallen_tree", "road_blocked": "partly"},
        )
        file_report(centre, Actor("cun", "warden", squad="north", township="小湾村"), fallen_tree)
        with serving(create_app(centre, run_scheduler=False)) as url:
            yield language, centre, url


class Visit:
    """A browser context that may talk to the centre alone, and says what else was tried
    and what went wrong in the pages' scripts."""

    def __init__(self, browser, base: str, language: str, phone: bool) -> None:
        size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
        self.context = browser.new_context(
            locale="zh-CN" if language == "zh_CN" else "en-US",
            timezone_id="Asia/Shanghai",
            viewport=size,
            is_mobile=phone,
            has_touch=phone,
        )
        self.base = base
        self.outside: list[str] = []
        self.errors: list[str] = []
        centre = urlsplit(base).netloc
        self.context.route(
            "**/*",
            lambda route: (
                route.continue_()
                if urlsplit(route.request.url).netloc == centre
                else (self.outside.append(route.request.url), route.abort())
            ),
        )
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"{e}\n{e.stack}"))

    def login(self, username: str, lands_on: str) -> None:
        self.page.goto(f"{self.base}/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("form.login button[type=submit]")
        self.page.wait_for_url(f"{self.base}{lands_on}")

    def check(self, name: str, words: str, artifacts, language: str) -> str:
        """The page speaks its language, shows no UTC, and fits the screen."""
        page = self.page
        page.wait_for_load_state("networkidle")
        text = page.inner_text("body")
        assert words in text, f"{name}: {words!r} not on the page"
        assert page.get_attribute("html", "lang") == ("zh-CN" if language == "zh_CN" else "en")
        assert "UTC" not in text
        wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 0, f"{name}: {wide} px of sideways scrolling"
        page.screenshot(path=str(artifacts / f"pages-{language}-{name}.png"), full_page=True)
        return text

    def close(self) -> None:
        assert self.outside == [], f"requests left the centre: {self.outside}"
        assert self.errors == [], f"console errors: {self.errors}"
        self.context.close()


@pytest.mark.parametrize("phone", [False, True], ids=["desk", "phone"])
def test_officer_and_supervisor_pages(site, browser, artifacts, phone) -> None:
    language, centre, base = site
    words = WORDS[language]
    officer = Visit(browser, base, language, phone)
    officer.login("li", "/queue")
    queue = officer.check(f"officer-queue-{'phone' if phone else 'desk'}", words["queue"],
                          artifacts, language)  # fmt: skip
    assert "2026-03-02 17:00:00" in queue  # the review deadline (09:00 UTC), Shanghai time
    assert officer.page.locator("p.hint").is_visible() != phone  # no key hints on a touch screen
    officer.page.goto(f"{base}/episodes/ep-gate-1")
    event = officer.check(f"officer-event-{'phone' if phone else 'desk'}", words["event"],
                          artifacts, language)  # fmt: skip
    assert "京A6K327" in event and "node:" not in event  # who acted, in the reader's words
    assert ("边缘节点 demo-node" if language == "zh_CN" else "edge node demo-node") in event
    assert phone or "李警官" in event  # the phone's header leaves the name out
    officer.page.goto(f"{base}/episodes")
    officer.check(f"officer-history-{'phone' if phone else 'desk'}", words["history"],
                  artifacts, language)  # fmt: skip
    officer.close()

    supervisor = Visit(browser, base, language, phone)
    supervisor.login("zhang", "/escalated")
    supervisor.check(f"supervisor-escalated-{'phone' if phone else 'desk'}",
                     words["escalated"], artifacts, language)  # fmt: skip
    supervisor.page.goto(f"{base}/dashboard")
    supervisor.check(f"supervisor-dashboard-{'phone' if phone else 'desk'}",
                     words["dashboard"], artifacts, language)  # fmt: skip
    supervisor.close()


def test_warden_pages_on_a_phone(site, browser, artifacts) -> None:
    language, centre, base = site
    words = WORDS[language]
    warden = Visit(browser, base, language, phone=True)
    warden.login("cun", "/me")
    warden.check("warden-me", words["me"], artifacts, language)
    warden.page.goto(f"{base}/reports/new")
    form = warden.check("warden-form", words["new"], artifacts, language)
    assert ("疑似酒驾" if language == "zh_CN" else "Suspected drunk driving") in form
    warden.close()


def test_an_officer_tickets_and_takes_it_back_in_their_language(site, browser, artifacts) -> None:
    language, centre, base = site
    officer = Visit(browser, base, language, phone=False)
    officer.login("li", "/queue")
    officer.page.goto(f"{base}/episodes/ep-gate-1")
    officer.page.keyboard.press("t")  # ticket, and on to the next review
    officer.page.wait_for_url(f"{base}/episodes/ep-gate-2")
    toast = officer.page.locator("#undo-toast")
    issued = "罚单 RG-" if language == "zh_CN" else "Ticket RG-"
    assert issued in toast.inner_text()
    officer.check("officer-undo-toast", WORDS[language]["event"], artifacts, language)
    officer.page.click("#undo-button")
    officer.page.wait_for_url(f"{base}/episodes/ep-gate-1")
    state = officer.page.inner_text("#state")
    assert state == ("待审核" if language == "zh_CN" else "pending review")
    audit = officer.page.inner_text("table.audit")
    assert ("已撤销处理决定" if language == "zh_CN" else "decision withdrawn") in audit
    officer.close()


def test_the_switch_changes_the_language_on_the_spot(site, browser, artifacts) -> None:
    language, centre, base = site
    other = "en" if language == "zh_CN" else "zh_CN"
    visit = Visit(browser, base, language, phone=False)
    visit.login("li", "/queue")
    visit.page.click(f"#language-{other}")
    visit.page.wait_for_url(f"{base}/queue")
    visit.check("switched-queue", WORDS[other]["queue"], artifacts, other)
    visit.close()


def test_the_map_and_the_place_picker_work_with_no_internet(site, browser, artifacts) -> None:
    """No tile server and no way out: the site and the open report are drawn on the plain
    grid; on the warden's phone a tap on the map is the place, and the open report near it
    is shown before a second one is filed."""
    language, centre, base = site
    words = WORDS[language]
    officer = Visit(browser, base, language, phone=False)
    officer.login("li", "/queue")
    officer.page.goto(f"{base}/map")
    officer.page.wait_for_selector("#map[data-ready='2']")  # the school gate and the tree
    assert officer.page.locator("#map path.leaflet-interactive").count() == 2
    assert officer.page.locator("#map .grid-label").count() > 2  # the coordinate grid
    shown = officer.check("officer-map", words["map"], artifacts, language)
    assert "城关小学门口" in shown
    officer.close()

    warden = Visit(browser, base, language, phone=True)
    warden.login("cun", "/me")
    warden.page.goto(f"{base}/reports/new")
    warden.page.wait_for_selector("#pick-map[data-ready]")
    warden.page.locator("#pick-map").click()  # the middle: the school gate
    assert warden.page.input_value("#position") == "map"
    lat, long = float(warden.page.input_value("#lat")), float(warden.page.input_value("#long"))
    assert abs(lat - SCHOOL[0]) < 0.002 and abs(long - SCHOOL[1]) < 0.002
    warden.page.wait_for_selector("#nearby:not([hidden])")
    nearby = warden.page.inner_text("#nearby")
    assert words["nearby"] in nearby
    assert ("道路隐患" if language == "zh_CN" else "Road hazard") in nearby
    warden.check("warden-form-nearby", words["new"], artifacts, language)
    warden.close()


def test_a_warden_files_and_sees_the_squads_answer_and_an_officer_dismisses(
    site, browser, artifacts
) -> None:
    """The whole round in one language: the warden files from the phone (category, answers,
    a tap on the map, words) and lands on their list; the officer acknowledges and
    dispatches it with a note; the warden sees who did what; the officer dismisses a
    violation with a reason key."""
    language, centre, base = site
    zh = language == "zh_CN"
    warden = Visit(browser, base, language, phone=True)
    warden.login("cun", "/me")
    warden.page.goto(f"{base}/reports/new")
    warden.page.check("#cat-road_hazard")
    warden.page.select_option("#attr-road_hazard-hazard", "debris")
    warden.page.select_option("#attr-road_hazard-road_blocked", "partly")
    warden.page.wait_for_selector("#pick-map[data-ready]")
    warden.page.locator("#pick-map").click()
    warden.page.fill("#description", "石头挡住半边路" if zh else "Rocks block half the road")
    warden.page.click("#send")
    warden.page.wait_for_url(f"{base}/me?filed=*")
    report_id = warden.page.url.rsplit("=", 1)[1]
    mine = warden.check("warden-sent", "已发送" if zh else "sent", artifacts, language)
    assert ("道路隐患" if zh else "Road hazard") in mine

    officer = Visit(browser, base, language, phone=False)
    officer.login("li", "/queue")
    officer.page.goto(f"{base}/reports/{report_id}")
    assert ("地图选点" if zh else "tapped on the map") in officer.page.inner_text("#where")
    officer.page.click("#acknowledge-button")
    officer.page.wait_for_selector("#dispatch-note")
    officer.page.fill("#dispatch-note", "十分钟到" if zh else "there in ten minutes")
    officer.page.click("#dispatch-button")
    officer.page.wait_for_url(f"{base}/reports/{report_id}")
    dispatched = "已派警" if zh else "dispatched"
    officer.check("officer-report-dispatched", dispatched, artifacts, language)
    officer.page.goto(f"{base}/episodes/ep-gate-2")
    officer.page.keyboard.press("1")  # the first reason
    officer.page.wait_for_load_state("networkidle")
    officer.page.goto(f"{base}/episodes/ep-gate-2")
    assert officer.page.inner_text("#state") == ("不予处罚" if zh else "dismissed")
    officer.check("officer-dismissed", "不予处罚" if zh else "Dismissed", artifacts, language)
    officer.close()

    warden.page.goto(f"{base}/me")
    update = warden.page.inner_text(f"[data-update='{report_id}']")
    assert ("已派警" if zh else "dispatched") in update and "李警官" in update
    assert ("十分钟到" if zh else "there in ten minutes") in update
    warden.check("warden-answered", "李警官", artifacts, language)
    warden.close()
