"""`create_app`: the FastAPI application of one central worker.

The lifespan runs the deadline scheduler (its first tick, before serving, escalates what
passed while the service was down) and, when asked, the MQTT consumer.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import xstatic.pkg.leaflet
from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.middleware.sessions import SessionMiddleware

from central import metrics
from central.centre import Centre
from central.clock import Clock
from central.config import CentralSettings
from central.episodes.workflow import WorkflowError
from central.reports.alerts import MqttAlerts, NoAlerts
from central.reports.filing import EvidenceUnavailable
from central.scheduler import DeadlineScheduler
from central.text import Said
from central.web import admin, maps, open311, openapi, reports, reviews, session, stats
from central.web.auth import LoginRequired, csrf_token
from central.web.limits import BodyLimit, route_limit
from central.web.open311 import Open311Error, open311_errors
from central.web.security import SecurityHeaders
from central.web.templating import page_context, templates

STATIC = Path(__file__).resolve().parent.parent / "static"
LEAFLET = Path(xstatic.pkg.leaflet.BASE_DIR)


def create_app(
    centre: Centre | None = None,
    *,
    settings: CentralSettings | None = None,
    clock: Clock | None = None,
    run_scheduler: bool = True,
    run_consumer: bool = False,
) -> FastAPI:
    """The app for `centre` (or one opened, and migrated, from `settings`/the environment)."""
    if centre is None:
        centre = Centre.open(settings or CentralSettings(), clock=clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler = DeadlineScheduler(centre) if run_scheduler else None
        consumer = None
        if scheduler:
            scheduler.start()
        app.state.scheduler = scheduler
        if run_consumer:
            from central.episodes.consumer import EpisodeConsumer

            consumer = EpisodeConsumer(centre)
            consumer.start()
        app.state.consumer = consumer
        alerts = start_alerts(centre, consumer.client if consumer else None)
        try:
            yield
        finally:
            if consumer:
                consumer.stop()
            if scheduler:
                scheduler.stop()
            if alerts is not None:
                alerts.stop()
                centre.alerts = NoAlerts()

    app = FastAPIOffline(  # /docs and /redoc from the centre's own copy: no CDN, no internet
        title="RoadGuard central",
        version="1",
        summary="Review of parking violations from RoadGuard edge nodes; road-warden reports "
        "(Open311 GeoReport v2 at /open311/v2).",
        lifespan=lifespan,
    )
    app.state.centre = centre
    app.add_middleware(
        SessionMiddleware,
        # Tests and demos may go without one: then a random secret, valid until a restart.
        secret_key=centre.settings.secret_key or secrets.token_urlsafe(32),
        session_cookie="roadguard_session",
        max_age=centre.settings.session_max_age_s,
        same_site="lax",
        https_only=centre.settings.https_only_cookies,
    )
    # Outermost: a body is counted before anything reads it (see central.web.limits).
    app.add_middleware(BodyLimit, limit_for=route_limit(centre.settings.reports.max_media_bytes))
    app.add_middleware(SecurityHeaders)
    # Leaflet from its PyPI package (XStatic-Leaflet): the map needs nothing from outside.
    app.mount("/static/vendor/leaflet", StaticFiles(directory=LEAFLET), name="leaflet")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    resources = (session, reviews, maps, reports, stats, admin)
    for resource in resources:  # pages, then the JSON API
        app.include_router(resource.pages)
    for resource in resources:
        app.include_router(resource.api)
    app.include_router(open311.router)
    app.include_router(metrics.router)
    _error_handlers(app)
    openapi.install(app)
    return app


def start_alerts(centre: Centre, client: Any = None) -> MqttAlerts | None:
    """MQTT alerts for urgent reports, when `reports.mqtt_alerts` asks for them; through the
    consumer's connection (`client`) when this worker consumes."""
    if not centre.settings.reports.mqtt_alerts:
        return None
    mqtt = centre.settings.mqtt
    alerts = MqttAlerts(
        mqtt.host,
        mqtt.port,
        username=mqtt.username,
        password=mqtt.password,
        keepalive_s=mqtt.keepalive_s,
        tls=mqtt.tls,
        tls_ca_file=str(mqtt.tls_ca_file) if mqtt.tls_ca_file else None,
        client=client,
        categories=centre.categories,
    ).start()
    centre.alerts = alerts
    return alerts


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/open311/"))


def _is_open311(request: Request) -> bool:
    return request.url.path.startswith("/open311/")


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if _is_open311(request):
            return open311_errors(401, ["log in, or send an api_key"])
        if _wants_json(request):
            return JSONResponse({"detail": "log in first"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(Open311Error)
    async def open311_error(request: Request, exc: Open311Error) -> Response:
        return open311_errors(exc.status, exc.descriptions)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if _is_open311(request):
            return open311_errors(
                400, [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            )
        return await request_validation_exception_handler(request, exc)

    @app.exception_handler(WorkflowError)
    async def workflow_error(request: Request, exc: WorkflowError) -> Response:
        return _error(request, exc.status, str(exc), said=exc.said)

    @app.exception_handler(EvidenceUnavailable)
    async def evidence_unavailable(request: Request, exc: EvidenceUnavailable) -> Response:
        headers = {"Retry-After": str(exc.retry_after_s)}
        return _error(request, 503, str(exc.said), headers, said=exc.said)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        said = getattr(exc, "said", None)  # a Refused: the page says it in its language
        return _error(request, exc.status_code, str(exc.detail), exc.headers, said=said)


def _error(
    request: Request,
    status: int,
    message: str,
    headers: dict | None = None,
    said: Said | None = None,
) -> Response:
    if _is_open311(request):
        return open311_errors(status, [message], headers)
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    context = {**page_context(request, None), "csrf": csrf_token(request)}
    return templates.TemplateResponse(
        request,
        "error.html",
        {**context, "status": status, "message": message, "said": said},
        status_code=status,
        headers=headers,
    )
