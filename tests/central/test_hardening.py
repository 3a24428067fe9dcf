"""The centre against hostile or careless clients, on a real `central serve` process: what
an anonymous or oversized body costs it (resident memory, bytes taken, files spooled), what
a decompression-friendly photo costs to check, and the answers to out-of-range ids, a full
disk, polyglot uploads and probing across squads."""

from __future__ import annotations

import json

import pytest

from central.testing.server import central_serve, post_streaming, zeros

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
