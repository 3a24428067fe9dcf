"""Request body limits, enforced while the body streams in.

A Content-Length check alone is no limit: a chunked request has none, and a route that calls
`request.body()` or `request.form()` would hold (or spool to /tmp) whatever arrives. So
`BodyLimit`, a pure ASGI middleware, counts the bytes of every `http.request` message and
raises `BodyTooLarge` (a 413 in the route's own error format) as soon as a body passes its
route's limit, or at once when the declared Content-Length already does; uvicorn then stops
reading. The photo routes get the photo limit plus `FORM_SLACK_BYTES`; every other route
`FORM_SLACK_BYTES`. A route may lower its limit while it runs (`lower_limit`): Open311 does
for a caller it could not identify before the body, who may only send a small form that
carries an `api_key` field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from central.text import N_
from central.web.errors import Refused

FORM_SLACK_BYTES = 256 * 1024  # a form's text fields (and the multipart framing around a photo)
LIMIT_KEY = "roadguard.body_limit"
PHOTO_ROUTES = {("POST", "/open311/v2/requests.json"), ("POST", "/reports/new")}

Scope = dict[str, Any]


class BodyTooLarge(Refused):
    """413: the body passed `limit` bytes (a photo route names its photo limit)."""

    def __init__(self, limit: int, photo_bytes: int | None = None) -> None:
        if photo_bytes is not None:
            said, value = N_("the photo is over the %(limit).1f MB limit"), photo_bytes / 1e6
        else:
            said, value = N_("the request body is over the %(limit).0f KB limit"), limit / 1024
        super().__init__(413, said, limit=value)
        self.limit = limit


def route_limit(photo_bytes: int) -> Callable[[Scope], tuple[int, int | None]]:
    """A request's body limit, and the photo limit it allows for (the photo routes)."""

    def limit(scope: Scope) -> tuple[int, int | None]:
        if (scope["method"], scope["path"]) in PHOTO_ROUTES:
            return photo_bytes + FORM_SLACK_BYTES, photo_bytes
        return FORM_SLACK_BYTES, None

    return limit


def lower_limit(scope: Scope, limit: int) -> None:
    """From now on, this request's body may be at most `limit` bytes (counting what came)."""
    current = scope.get(LIMIT_KEY, (limit, None))[0]
    scope[LIMIT_KEY] = (min(limit, current), None)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimit:
    """Pure ASGI (no buffering, streaming responses untouched): counts request body bytes."""

    def __init__(self, app: Any, limit_for: Callable[[Scope], tuple[int, int | None]]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[LIMIT_KEY] = self.limit_for(scope)
        declared = _declared_length(scope)
        received = 0
        started = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            limit, photo = scope[LIMIT_KEY]
            if declared is not None and declared > limit:
                raise BodyTooLarge(limit, photo)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, photo)
            return message

        async def watched_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge as exc:  # raised where no handler answers it (a bare receive)
            if started:
                raise
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                }
            )
            await send({"type": "http.response.body", "body": exc.detail.encode()})
