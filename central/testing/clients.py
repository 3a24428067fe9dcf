"""A browser-like test client of the centre's pages: logged in through the login form, with
the page's CSRF token. For tests; the service never imports it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from central.testing.centres import PASSWORD


def page_csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def login(app, username: str) -> tuple[TestClient, str]:
    """A browser-like client logged in through the login form; returns it and its token."""
    client = TestClient(app, follow_redirects=False)
    token = page_csrf(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
    )
    assert response.status_code == 303, response.text
    return client, page_csrf(
        client.get("/queue").text if username != "walt" else client.get("/me").text
    )
