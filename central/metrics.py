"""The centre's Prometheus endpoint: the review backlog (and what is overdue), episodes by
state, nodes online, and what this worker's consumer ingested.

Not public: a scraper sends the `metrics_token` setting as a bearer token, or, without one
configured, must be on this machine (`_may_scrape`).

Read from the database at scrape time (a few grouped counts), so every worker reports the
same backlog and nothing in the request path has to update a metric.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import func, select

from central.episodes.dead_letters import dead_letter_counts
from central.models import Episode, Node, ReviewState

router = APIRouter(include_in_schema=False)


class CentreCollector(Collector):
    def __init__(self, centre: Any, consumer: Any = None) -> None:
        self.centre, self.consumer = centre, consumer

    def collect(self) -> Iterator[Any]:
        now = self.centre.clock.now()
        with self.centre.db.session() as session:
            states = dict(
                session.execute(select(Episode.state, func.count()).group_by(Episode.state)).all()
            )
            overdue = session.scalar(
                select(func.count()).where(
                    Episode.state == ReviewState.pending_review, Episode.review_deadline < now
                )
            )
            online = dict(
                session.execute(select(Node.online, func.count()).group_by(Node.online)).all()
            )
            dead = dead_letter_counts(session)
        episodes = GaugeMetricFamily(
            "roadguard_central_episodes", "Episodes by state", labels=["state"]
        )
        for state in ReviewState:
            episodes.add_metric([state.value], states.get(state.value, 0))
        yield episodes
        yield GaugeMetricFamily(
            "roadguard_central_review_backlog",
            "Violations waiting for an officer (pending review)",
            value=states.get(ReviewState.pending_review.value, 0),
        )
        yield GaugeMetricFamily(
            "roadguard_central_reviews_overdue",
            "Pending reviews past their deadline",
            value=overdue,
        )
        nodes = GaugeMetricFamily("roadguard_central_nodes", "Edge nodes", labels=["status"])
        nodes.add_metric(["online"], online.get(True, 0))
        nodes.add_metric(["offline"], online.get(False, 0))
        yield nodes
        letters = GaugeMetricFamily(
            "roadguard_central_dead_letters",
            "Messages kept in the dead-letter table (never storable), by reason",
            labels=["reason"],
        )
        for reason, count in sorted(dead.items()):
            letters.add_metric([reason], count)
        yield letters
        if self.consumer is not None:
            ingested = CounterMetricFamily(
                "roadguard_central_messages",
                "MQTT messages this worker handled, by kind and result",
                labels=["kind", "result"],
            )
            for key, count in dict(self.consumer.counts).items():
                kind, _, result = key.partition(":")
                ingested.add_metric([kind, result or kind], count)
            yield ingested


def _may_scrape(request: Request) -> Response | None:
    """None if the caller may read the metrics; else the refusal. With a token configured,
    the bearer must match it (constant time); without, the caller must be on loopback."""
    token = request.app.state.centre.settings.metrics_token
    if token:
        scheme, _, sent = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(sent.strip(), token):
            return None
        return PlainTextResponse(
            "send the metrics token as Authorization: Bearer <token>\n",
            401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    try:
        if request.client and ipaddress.ip_address(request.client.host).is_loopback:
            return None
    except ValueError:
        pass
    return PlainTextResponse(
        "metrics are served to this machine only; set ROADGUARD_METRICS_TOKEN to scrape "
        "from elsewhere\n",
        403,
    )


@router.get("/metrics")
def metrics(request: Request) -> Response:
    refused = _may_scrape(request)
    if refused is not None:
        return refused
    registry = CollectorRegistry()
    registry.register(
        CentreCollector(request.app.state.centre, getattr(request.app.state, "consumer", None))
    )
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
