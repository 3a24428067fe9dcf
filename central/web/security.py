"""Browser-side defences every answer carries, and how stored uploads are served.

`SecurityHeaders` (pure ASGI) adds a Content-Security-Policy, `X-Frame-Options: DENY`,
`X-Content-Type-Options: nosniff` and a same-origin referrer policy to every response that
does not set its own. The pages load only the centre's own scripts and styles (their inline
`<script type="application/json">` blocks are data, which CSP does not run); inline `style=`
attributes (the dashboard's bars) need `'unsafe-inline'` styles. The API docs (`/docs`,
`/redoc`) start Swagger UI and ReDoc with an inline script, so they get their own policy.

An upload is served by `stored_image`: with the image type its bytes were checked to be (a
client's claim is never echoed), `nosniff`, a Content-Disposition naming an image file, and
a sandboxing policy, so a JPEG+HTML polyglot is never run as a page.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.responses import Response

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; frame-ancestors 'none'"
)
UPLOAD_POLICY = "default-src 'none'; sandbox"
DOCS_PATHS = ("/docs", "/redoc")

# What a stored upload may be served as (anything else is a download): photos and evidence
# pictures, and the clip of a played warning (evidence `warning<n>-voice.wav`).
IMAGE_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "audio/wav": "wav"}


def _headers(policy: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", policy.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]


class SecurityHeaders:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.pages = _headers(PAGE_POLICY)
        self.docs = _headers(DOCS_POLICY)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.docs if scope["path"].startswith(DOCS_PATHS) else self.pages

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def stored_image(data: bytes, content_type: str | None, name: str, sha256: str) -> Response:
    """An upload as an image download-safe answer (see the module docstring)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", name)[:100] or "upload"
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in IMAGE_TYPES:
        kind = "application/octet-stream"
        disposition = f'attachment; filename="{name}"'
    else:
        disposition = f'inline; filename="{name}.{IMAGE_TYPES[kind]}"'
    headers = {
        "Cache-Control": "private, max-age=86400, immutable",  # content-addressed bytes
        "ETag": f'"{sha256}"',
        "Content-Disposition": disposition,
        "Content-Security-Policy": UPLOAD_POLICY,
        "X-Content-Type-Options": "nosniff",
    }
    return Response(data, media_type=kind, headers=headers)
