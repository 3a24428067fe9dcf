"""The centre against hostile or careless clients, on a real `central serve` process: what
an anonymous or oversized body costs it (resident memory, bytes taken, files spooled), what
a decompression-friendly photo costs to check, and the answers to out-of-range ids, a full
disk, polyglot uploads and probing across squads."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from central.testing.centres import DATABASES, add_report_users, api_key_for, open_centre
from central.testing.clients import login
from central.testing.server import central_serve, post_streaming, zeros
from central.web import create_app

MB = 1 << 20


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with central_serve(tmp_path_factory.mktemp("centre")) as running:
        yield running


def _json_body(total: int):
    yield b'{"service_code": "other", "description": "'
    yield from zeros(total)
    yield b'"}'


def _multipart_body(total: int, boundary: str = "xBOUNDARYx"):
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="media"; filename="a.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    yield from zeros(total)
    yield f"\r\n--{boundary}--\r\n".encode()


def test_an_anonymous_chunked_body_costs_no_memory(server):
    peak = server.memory("VmHWM")
    answer = post_streaming(
        server.url,
        "/open311/v2/requests.json",
        _json_body(96 * MB),
        {"Content-Type": "application/json"},
    )
    assert answer.status == 401, answer.body
    assert json.loads(answer.body)[0]["code"] == 401
    growth = server.memory("VmHWM") - peak
    assert growth < 16 * MB, f"the peak grew by {growth / MB:.0f} MB"


def test_an_anonymous_chunked_photo_is_not_spooled(server):
    answer = post_streaming(
        server.url,
        "/open311/v2/requests.json",
        _multipart_body(96 * MB),
        {"Content-Type": "multipart/form-data; boundary=xBOUNDARYx"},
    )
    assert answer.status == 401, answer.body
    assert answer.sent < 40 * MB, f"the server took {answer.sent / MB:.0f} MB"


def test_an_oversized_chunked_photo_is_refused_while_it_streams(server):
    answer = post_streaming(
        server.url,
        "/open311/v2/requests.json",
        _multipart_body(96 * MB),
        {
            "Content-Type": "multipart/form-data; boundary=xBOUNDARYx",
            "Authorization": f"Bearer {server.keys['walt']}",
        },
    )
    assert answer.status == 413, answer.body
    error = json.loads(answer.body)
    assert error[0]["code"] == 413 and "6.3 MB" in error[0]["description"]
    assert answer.sent < 40 * MB, f"the server took {answer.sent / MB:.0f} MB"


def flat_png(width: int, height: int) -> bytes:
    """A one-colour RGB PNG of any size, written row by row: tiny on disk (zlib squeezes the
    rows to nothing), huge once decoded; made without holding the pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    packer = zlib.compressobj(9)
    row = b"\0" + b"\x50\x60\x70" * width
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def _file_photo(server, photo: bytes) -> int:
    import httpx

    response = httpx.post(
        f"{server.url}/open311/v2/requests.json",
        data={"service_code": "other", "address_string": "bridge", "attribute[subject]": "x"},
        files={"media": ("IMG_0001.png", photo, "image/png")},
        headers={"Authorization": f"Bearer {server.keys['walt']}"},
        timeout=120,
    )
    return response.status_code


def test_a_photo_past_a_phone_cameras_size_is_refused_from_its_header(server):
    bomb = flat_png(7000, 7000)  # 49 MP in 140 kB: under the old 50 MP limit
    assert len(bomb) < 200_000
    peak = server.memory("VmHWM")
    assert _file_photo(server, bomb) == 413
    growth = server.memory("VmHWM") - peak
    assert growth < 16 * MB, f"the peak grew by {growth / MB:.0f} MB"


def test_concurrent_decodes_are_bounded(server):
    from concurrent.futures import ThreadPoolExecutor

    photo = flat_png(6000, 4000)  # 24 MP: a phone camera's largest, ~96 MB decoded
    assert _file_photo(server, photo) == 201  # the first decode's memory is the baseline
    peak, resident = server.memory("VmHWM"), server.memory()
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: _file_photo(server, photo), range(8)))
    assert statuses == [201] * 8
    growth, kept = server.memory("VmHWM") - peak, server.memory() - resident
    # Two decodes at a time, on two threads; eight at once took 565 MB and kept 335 MB.
    assert growth < 200 * MB, f"the peak grew by {growth / MB:.0f} MB"
    assert kept < 120 * MB, f"{kept / MB:.0f} MB more stayed resident"


@pytest.fixture(params=DATABASES)
def centre(request, tmp_path):
    with open_centre(request.param, tmp_path) as centre:
        add_report_users(centre)
        yield centre


@pytest.fixture
def app(centre):
    return create_app(centre, run_scheduler=False)


@pytest.mark.parametrize("report_id", [2**63, 2**64 + 5, 0])
def test_report_ids_out_of_range_are_not_found(app, report_id):
    officer, token = login(app, "olga")
    officer.headers["X-CSRF-Token"] = token
    key = {"Authorization": f"Bearer {api_key_for(app.state.centre, 'walt')}"}
    answers = {
        "page": officer.get(f"/reports/{report_id}"),
        "page action": officer.post(f"/reports/{report_id}/acknowledge"),
        "photo": officer.get(f"/reports/{report_id}/media"),
        "api action": officer.post(f"/api/v1/reports/{report_id}/acknowledge"),
        "open311 one": officer.get(f"/open311/v2/requests/{report_id}.json", headers=key),
    }
    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(answers, 404)
    listed = officer.get("/open311/v2/requests.json", params={"service_request_id": report_id})
    assert listed.status_code == 400 and "service_request_id" in listed.text
    assert officer.get("/me", params={"filed": report_id}).status_code in (200, 403)


def _warden(app) -> TestClient:
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {api_key_for(app.state.centre, 'walt')}"
    return client


OTHER = {"service_code": "other", "attribute[subject]": "pothole", "address_string": "bridge"}


def test_an_empty_photo_part_is_refused_not_dropped(app):
    empty = {"media": ("IMG_0001.jpg", b"", "image/jpeg")}
    response = _warden(app).post("/open311/v2/requests.json", data=OTHER, files=empty)
    assert response.status_code == 400, response.text
    assert "media: the photo is empty" in response.json()[0]["description"]
    # A browser's form with no file chosen sends a nameless empty part: that is no photo.
    nothing = {"media": ("", b"", "application/octet-stream")}
    assert (
        _warden(app).post("/open311/v2/requests.json", data=OTHER, files=nothing).status_code == 201
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('{"service_code": "other", "lat": NaN, "long": 120}', "NaN is not JSON"),
        ('{"service_code": "other", "attributes": {"subject": Infinity}}', "Infinity"),
        ('{"service_code": 5, "address_string": "bridge"}', "service_code: must be a string"),
        ('{"service_code": "other", "address_string": ["x"]}', "address_string"),
        ('{"service_code": "other", "attributes": [1]}', "attributes: must be an object"),
    ],
)
def test_json_that_is_not_standard_or_of_the_wrong_type_is_refused(app, body, words):
    response = _warden(app).post(
        "/open311/v2/requests.json", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert words in response.text


def test_a_full_evidence_disk_is_an_open311_error_with_a_retry_hint(app, monkeypatch):
    import errno

    from central.reports.media import jpeg_with_gps

    def full(data: bytes) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(app.state.centre.evidence, "put", full)
    photo = {"media": ("IMG_0001.jpg", jpeg_with_gps(31.09, 121.24), "image/jpeg")}
    response = _warden(app).post("/open311/v2/requests.json", data=OTHER, files=photo)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "300"
    [error] = response.json()
    assert error["code"] == 503 and "try again later" in error["description"]
    warden, token = login(app, "walt")
    page = warden.post("/reports/new", data={**OTHER, "csrf_token": token}, files=photo)
    assert page.status_code == 503 and "try again later" in page.text
    assert page.headers["retry-after"] == "300"


def test_pages_carry_a_content_security_policy_and_frame_and_sniff_headers(app):
    for path in ("/login", "/open311/v2/services.json", "/static/app.js"):
        headers = TestClient(app).get(path).headers
        assert "default-src 'self'" in headers["content-security-policy"], path
        assert "script-src 'self';" in headers["content-security-policy"], path
        assert headers["x-frame-options"] == "DENY", path
        assert headers["x-content-type-options"] == "nosniff", path
    # Swagger UI starts with an inline script: the docs have their own policy.
    assert "'unsafe-inline'" in TestClient(app).get("/docs").headers["content-security-policy"]


def test_a_jpeg_html_polyglot_is_served_as_an_image_only(app):
    from central.reports.media import jpeg_with_gps

    polyglot = jpeg_with_gps(31.09, 121.24) + b"<html><script>alert(document.cookie)</script>"
    warden = _warden(app)
    photo = {"media": ("x.html", polyglot, "text/html")}
    filed = warden.post("/open311/v2/requests.json", data=OTHER, files=photo)
    assert filed.status_code == 201, filed.text
    rid = filed.json()[0]["service_request_id"]
    served = warden.get(f"/reports/{rid}/media")
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-disposition"] == f'inline; filename="report-{rid}.jpg"'
    assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"


def test_metrics_need_the_token_or_a_local_caller(tmp_path):
    with open_centre("sqlite", tmp_path) as plain:
        app = create_app(plain, run_scheduler=False)
        assert TestClient(app, client=("203.0.113.9", 4000)).get("/metrics").status_code == 403
        local = TestClient(app, client=("127.0.0.1", 4000)).get("/metrics")
        assert local.status_code == 200 and "roadguard_central_review_backlog" in local.text
    with open_centre("sqlite", tmp_path / "t", metrics_token="scrape-me-0123456789") as guarded:
        app = create_app(guarded, run_scheduler=False)
        for client in ("203.0.113.9", "127.0.0.1"):
            remote = TestClient(app, client=(client, 4000))
            refused = remote.get("/metrics")
            assert refused.status_code == 401 and refused.headers["www-authenticate"]
            assert (
                remote.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
            )
            ok = remote.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"})
            assert ok.status_code == 200 and "roadguard_central_nodes" in ok.text


def test_every_form_route_is_bounded_too(server):
    """Not only the photo routes: the login form (any other body) stops at 256 KiB."""
    answer = post_streaming(
        server.url,
        "/login",
        zeros(64 * MB),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status == 413, answer.body[:200]
    assert b"256 KB" in answer.body
    assert answer.sent < 32 * MB, f"the server took {answer.sent / MB:.0f} MB"
