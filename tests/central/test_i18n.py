"""The pages in Simplified Chinese and English: every template string marked and translated,
the language switch remembered per user, times in the deployment's zone, people by their
display names, CSV a spreadsheet on Chinese Windows opens, API docs without the internet."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from jinja2 import nodes

from central.config import UiConfig
from central.testing.centres import PASSWORD, add_users, open_centre
from central.testing.clients import login, page_csrf
from central.testing.records import ingest_violation
from central.users import add_user
from central.web import create_app
from central.web.i18n import LOCALE_DIR
from central.web.templating import TEMPLATES, templates

ROOT = Path(__file__).resolve().parents[2]
# Text a template may hold as it is, in any language: names and symbols.
UNTRANSLATED_OK = {"RoadGuard", "API", "CSV", "T", "O", "U"}  # names, keys
ATTRIBUTES_READ = ("placeholder", "alt", "title", "aria-label")


class _VisibleText(HTMLParser):
    """The words a person sees in a piece of template text: text nodes and the attributes a
    screen or a screen reader shows."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.words += [value or "" for name, value in attrs if name in ATTRIBUTES_READ]

    def handle_data(self, data: str) -> None:
        self.words.append(data)


def _raw_text(name: str) -> list[str]:
    source = (TEMPLATES / name).read_text()
    tree = templates.env.parse(source)
    parser = _VisibleText()
    for data in tree.find_all(nodes.TemplateData):
        parser.feed(data.data)
    words = re.findall(r"[A-Za-z][A-Za-z'’-]*", " ".join(parser.words))
    return [w for w in words if w not in UNTRANSLATED_OK]


@pytest.mark.parametrize("name", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_no_template_holds_text_outside_the_catalogue(name: str) -> None:
    assert _raw_text(name) == [], f"{name}: wrap these in _() or {{% trans %}}"


def test_the_lint_sees_a_forgotten_string() -> None:
    """The test above can fail: plain text, an attribute, a word between tags."""
    tree = templates.env.parse('<p>{{ _("Kept") }} Forgotten <input placeholder="Also"></p>')
    parser = _VisibleText()
    for data in tree.find_all(nodes.TemplateData):
        parser.feed(data.data)
    assert re.findall(r"[A-Za-z]+", " ".join(parser.words)) == ["Forgotten", "Also"]


def _extracted_messages() -> set[str]:
    method_map = [("central/**.py", "python"), ("central/templates/**.html", "jinja2")]
    options = {"central/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options, keywords=keywords
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_message_has_a_chinese_translation() -> None:
    with (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po)
    translated = {
        (m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in catalog
        if m.id and all(m.string if isinstance(m.string, tuple) else [m.string]) and not m.fuzzy
    }
    missing = sorted(_extracted_messages() - translated)
    assert len(_extracted_messages()) > 150  # the extraction really read the pages
    assert missing == [], "run `make messages` and translate these in zh_CN/messages.po"


@pytest.fixture
def centre(tmp_path):
    with open_centre("sqlite", tmp_path, ui=UiConfig()) as centre:  # the shipped defaults
        add_users(centre)
        with centre.db.session() as session:
            add_user(session, "li", PASSWORD, "officer", centre.clock.now(), "李警官")
        ingest_violation(centre, "ep-1", plate="京A6K327")
        yield centre


@pytest.fixture
def app(centre):
    return create_app(centre, run_scheduler=False)


def test_pages_speak_chinese_by_default_and_the_switch_is_remembered(app) -> None:
    anonymous = TestClient(app)
    login_page = anonymous.get("/login").text
    assert '<html lang="zh-CN">' in login_page and "用户名" in login_page

    client, token = login(app, "li")
    queue = client.get("/queue").text
    assert '<html lang="zh-CN">' in queue and "审核队列" in queue and "Review queue" not in queue
    assert "李警官 (民警)" in queue

    switched = client.post(
        "/language", data={"csrf_token": token, "language": "en", "next": "/queue"}
    )
    assert switched.status_code == 303 and switched.headers["location"] == "/queue"
    english = client.get("/queue").text
    assert '<html lang="en">' in english and "Review queue" in english

    # remembered for the user, not the browser: a new login elsewhere is still in English
    elsewhere, _token = login(app, "li")
    assert "Review queue" in elsewhere.get("/queue").text
    assert client.post("/language", data={"csrf_token": token, "language": "fr"}).status_code == 422


def test_a_language_chosen_before_login_becomes_the_users(app) -> None:
    client = TestClient(app, follow_redirects=False)
    token = page_csrf(client.get("/login").text)
    client.post("/language", data={"csrf_token": token, "language": "en", "next": "/login"})
    assert "User name" in client.get("/login").text
    token = page_csrf(client.get("/login").text)
    client.post("/login", data={"username": "olga", "password": PASSWORD, "csrf_token": token})
    fresh, _token = login(app, "olga")  # another device
    assert "Review queue" in fresh.get("/queue").text


def test_times_are_the_deployments_wall_clock_and_people_their_names(app, centre) -> None:
    client, token = login(app, "li")
    page = client.get("/episodes/ep-1").text
    # the violation was ingested at 08:00:01 UTC: 16:00:01 in Shanghai
    assert "2026-03-02 16:00:01" in page and "UTC" not in page
    assert "camera clock" not in page and "(相机时钟)" not in page
    # the first warning's wall-clock time, from the record's own camera/wall pair
    assert re.search(r"第 1 次警告\s*<span class=\"small\">2026-03-02 15:5\d:\d\d</span>", page)
    client.post("/episodes/ep-1/ticket", data={"csrf_token": token})
    audit = client.get("/episodes/ep-1").text
    assert "<td>李警官</td>" in audit and "<td>li</td>" not in audit
    assert "李警官" in client.get("/episodes").text


def test_csv_exports_open_in_excel_on_chinese_windows(app, centre) -> None:
    client, token = login(app, "li")
    client.post("/episodes/ep-1/ticket", data={"csrf_token": token})
    day = centre.clock.now().date().isoformat()
    exported = client.get(f"/api/v1/export/tickets.csv?since={day}&until={day}")
    assert exported.content.startswith(b"\xef\xbb\xbf")
    (row,) = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert row["车牌"] == "京A6K327" and row["罚单编号"]
    assert row["处理时间"].endswith("+08:00") and row["违停时间"].startswith("2026-03-02T16:00:01")


def test_the_api_docs_need_no_internet(app) -> None:
    client = TestClient(app)
    for path in ("/docs", "/redoc"):
        html = client.get(path).text
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), html
        assets = re.findall(r"""(?:src|href)=["']?(/[^"' >]+)""", html)
        assert assets and all(client.get(asset).status_code == 200 for asset in assets)
    assert client.get("/openapi.json").status_code == 200


def test_categories_speak_the_readers_language(app, centre) -> None:
    api = TestClient(app)
    chinese = {s["service_code"]: s for s in api.get("/open311/v2/services.json").json()}
    assert chinese["drunk_driving"]["service_name"] == "疑似酒驾"  # the deployment's default
    english = api.get("/open311/v2/services.json", params={"locale": "en"}).json()
    assert {s["service_name"] for s in english} >= {"Suspected drunk driving", "Accident"}
    definition = api.get("/open311/v2/services/drunk_driving.json", params={"locale": "zh-CN"})
    behaviour = {a["code"]: a for a in definition.json()["attributes"]}["behaviour"]
    assert behaviour["description"] == "看到的情况"
    assert {v["key"]: v["name"] for v in behaviour["values"]}["swerving"] == "蛇形行驶"

    warden, token = login(app, "walt")
    form = warden.get("/reports/new").text
    assert "疑似酒驾" in form and "蛇形行驶" in form and "Suspected drunk driving" not in form
    filed = warden.post(
        "/reports/new",
        data={
            "csrf_token": token,
            "service_code": "drunk_driving",
            "attribute[vehicle]": "白色皮卡",
            "attribute[behaviour]": "swerving",
            "attribute[heading]": "县城方向",
            "address_string": "小湾桥",
        },
    )
    assert filed.status_code == 303, filed.text
    report_id = filed.headers["location"].split("filed=")[1]
    page = warden.get(f"/reports/{report_id}").text
    assert "<dt>看到的情况</dt><dd>蛇形行驶</dd>" in page and "<h1>疑似酒驾" in page


def test_a_translation_of_an_unknown_question_names_it(tmp_path) -> None:
    from central.reports.categories import ReportCategories
    from configbase import InvalidFile

    county = tmp_path / "county.yaml"
    county.write_text(
        "categories:\n"
        "- code: other\n"
        "  name: Other\n"
        "  attributes: [{code: subject, description: Subject, datatype: string}]\n"
        "  translations:\n"
        "    zh_CN: {name: 其他, attributes: {topic: {description: 事项}}}\n"
    )
    with pytest.raises(InvalidFile, match=r"county.yaml:\d+: .*translations.zh_CN: no attributes"):
        ReportCategories.from_yaml(county)


def test_a_refused_report_says_why_in_the_wardens_language(app) -> None:
    warden, token = login(app, "walt")
    refused = warden.post(
        "/reports/new",
        data={
            "csrf_token": token,
            "service_code": "accident",
            "attribute[injured]": "light",
            "attribute[vehicles]": "很多",
            "attribute[road_blocked]": "yes",
        },
    )
    assert refused.status_code == 400
    errors = refused.text[refused.text.index('id="form-errors"') :].split("</ul>")[0]
    assert "涉及车辆数: 不是数字：很多" in errors
    assert "地点: 缺少地点（手机位置、手动输入或带 GPS 的照片）" in errors
    assert "not a number" not in errors and "missing" not in errors


def test_a_refused_decision_is_explained_in_the_officers_language(app, centre) -> None:
    client, token = login(app, "li")
    client.post("/episodes/ep-1/ticket", data={"csrf_token": token})
    centre.clock.advance(seconds=60)  # past the undo window
    refused = client.post("/episodes/ep-1/undo", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "事件 ep-1 的决定已生效（需在 10 秒内撤销）" in refused.text
    api = client.post("/api/v1/episodes/ep-1/undo", headers={"X-CSRF-Token": token})
    assert api.json()["detail"] == "the decision on ep-1 is final (undo within 10 s)"


def test_a_refused_request_is_explained_in_the_readers_language(app) -> None:
    client, token = login(app, "li")
    refused = client.post("/language", data={"csrf_token": token, "language": "fr"})
    assert refused.status_code == 422
    assert "未知语言 fr；可选：zh_CN, en" in refused.text
    stale = client.post("/episodes/ep-1/ticket", data={"csrf_token": "an-old-page"})
    assert stale.status_code == 403 and "页面已过期：请刷新页面后重试" in stale.text
    api = client.get("/api/v1/episodes", params={"since": "yesterday"})
    assert api.json()["detail"] == "since must be a date like 2026-03-02"  # the API: English


def test_a_refusal_names_roles_states_and_rights_in_words_not_codes(app, centre) -> None:
    officer, token = login(app, "li")
    refused = officer.get("/admin/dead-letters")
    assert refused.status_code == 403
    assert "您的角色（民警）无权管理账号" in refused.text
    assert "officer" not in refused.text and "manage_users" not in refused.text
    officer.post("/episodes/ep-1/ticket", data={"csrf_token": token})
    centre.clock.advance(seconds=60)
    again = officer.post(
        "/episodes/ep-1/dismiss", data={"csrf_token": token, "reason": "loading_permit"}
    )
    assert "事件 ep-1 当前为“已开罚单”，不在待审核中" in again.text
