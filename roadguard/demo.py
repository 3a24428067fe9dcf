"""`roadguard demo` (what `make demo` runs): the whole system on one machine.

A broker (Mosquitto), the centre (SQLite, its web pages) and an edge node on the scripted demo
scene: a car parks at a school gate, is warned twice (spoken, in Mandarin then English) and
becomes a violation; a second car leaves after its first warning. The demo ends with the
violation in the officer's review queue at a printed address.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# username -> (role, the name the pages show)
# Where the demo's one site is on the map (a county lists its own in `map.sites_file`).
DEMO_SITE = {"name": "城关小学门口（演示）", "lat": 30.2741, "long": 120.1551}


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="run the whole system on the demo scene")
    demo.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder")
    demo.add_argument("--port", type=int, default=8000, help="the centre's web port")
    demo.add_argument(
        "--serve",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep the centre running for a look at the pages (default: on a terminal)",
    )
    demo.add_argument(
        "--broker",
        metavar="URL",
        help="an existing broker (mqtt://host:port); default: start a local Mosquitto",
    )
    demo.add_argument(
        "--edge-only", action="store_true", help="no broker and no centre: the node and its log"
    )
    demo.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from announcer.config import WavOutput
    from edge.cli import DEMO_CONFIG, run_node, summarise
    from edge.config_loader import load_site_config

    out: Path = args.out
    for stale in out.glob("*.db*"):  # the centre, the outbox, the node's episode state
        stale.unlink()
    (out / "episodes.jsonl").unlink(missing_ok=True)
    for folder in ("announcements", "evidence", "central-evidence", "broker"):
        shutil.rmtree(out / folder, ignore_errors=True)
    site = load_site_config(DEMO_CONFIG)
    site = site.model_copy(
        update={
            "output": site.output.model_copy(
                update={
                    "episode_log": out / "episodes.jsonl",
                    "evidence_dir": out / "evidence",
                    "state_file": out / "state.db",
                }
            ),
            "announcer": site.announcer.model_copy(
                update={"outputs": [WavOutput(dir=out / "announcements")]}
            ),
        }
    )
    print(f"RoadGuard demo: scene {site.cameras[0].source}, ladder {site.ladder}")
    if args.edge_only:
        status = run_node(site)
        return status or summarise(out / "episodes.jsonl", out / "evidence", out / "announcements")

    with contextlib.ExitStack() as stack:
        from mqtt.config import MqttConfig

        if args.broker:
            broker_config = MqttConfig.from_url(args.broker, outbox_path=out / "outbox.db")
        else:
            try:
                broker = _start_broker(out / "broker")
            except Exception as exc:  # no Mosquitto: amqtt cannot carry MQTT v5 (research.md)
                print(f"cannot start a broker ({exc}); use --broker URL or --edge-only",
                      file=sys.stderr)  # fmt: skip
                return 2
            stack.callback(broker.stop)
            broker_config = MqttConfig(port=broker.port, outbox_path=out / "outbox.db")
        centre, consumer, url, server = _start_centre(out, broker_config, args.port, site.node_id)
        stack.callback(centre.close)
        stack.callback(setattr, server, "should_exit", True)
        print(f"broker mqtt://{broker_config.host}:{broker_config.port}, centre {url}")
        site = site.model_copy(update={"mqtt": broker_config})
        status = run_node(site)
        if status != 0:
            return status
        summarise(out / "episodes.jsonl", out / "evidence", out / "announcements")
        return _show_centre(centre, consumer, url, out, _serve_wanted(args))


def _start_broker(workdir: Path) -> Any:
    from mqtt.broker import embedded_broker

    return embedded_broker(workdir=workdir)


def _start_centre(out: Path, broker: Any, web_port: int, node_id: str) -> tuple[Any, Any, str, Any]:
    """The centre on SQLite in `out`, consuming from the broker, serving its pages, with the
    demo node's site on the map."""
    import uvicorn
    import yaml

    from central.centre import Centre
    from central.config import CentralSettings, EvidenceConfig
    from central.config import MqttConfig as CentralMqtt
    from central.places import MapConfig, SiteList, SitePlace
    from central.users import DEMO_ACCOUNTS, DEMO_PASSWORD, add_user
    from central.web import create_app
    from mqtt.broker import free_port

    sites = out / "sites.yaml"
    sites.write_text(
        yaml.safe_dump(
            SiteList(sites=[SitePlace(node_id=node_id, **DEMO_SITE)]).model_dump(),
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    settings = CentralSettings(
        map=MapConfig(sites_file=sites),
        database_url=f"sqlite:///{(out / 'central.db').resolve()}",
        evidence=EvidenceConfig(path=out / "central-evidence"),
        mqtt=CentralMqtt(
            host=broker.host,
            port=broker.port,
            username=broker.username,
            password=broker.password.get_secret_value() if broker.password else None,
            client_id="roadguard-demo-central",
        ),
    )
    centre = Centre.open(settings)
    with centre.db.session() as session:
        for username, (role, name) in DEMO_ACCOUNTS.items():
            add_user(session, username, DEMO_PASSWORD, role, centre.clock.now(), name)
    app = create_app(centre, run_consumer=True)
    port = web_port if _port_free(web_port) else free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    web = threading.Thread(target=server.run, name="centre-web", daemon=True)
    web.start()
    deadline = time.monotonic() + 30
    while not server.started:  # uvicorn sets it once it listens and the lifespan has run
        if not web.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the centre did not start")
        time.sleep(0.05)  # uvicorn offers a flag, not an event to wait on
    consumer = app.state.consumer
    if not consumer.subscribed.wait(30):  # the node must not publish before the centre listens
        raise RuntimeError("the centre could not subscribe to the broker")
    return centre, consumer, f"http://127.0.0.1:{port}", server


def _show_centre(centre: Any, consumer: Any, url: str, out: Path, serve: bool) -> int:
    from central.models import Episode
    from central.users import DEMO_PASSWORD
    from edge.sinks import read_episode_log

    records = read_episode_log(out / "episodes.jsonl")
    expected = len(records)
    arrived = consumer.wait_until(
        lambda counts: counts["episode:applied"] + counts["episode:duplicate"] >= expected,
        timeout=60,
    )
    violations = [r.episode_id for r in records if r.event == "violation"]
    with centre.db.session() as session:
        states = {e.id: e.state for e in session.query(Episode).all()}
    print(f"\nCentre: {len(states)} episode(s) ingested{'' if arrived else ' (still arriving)'}")
    for episode_id, state in states.items():
        print(f"  {episode_id[:8]}: {state}")
    print(f"\nReview queue: {url}/queue  (log in as officer / {DEMO_PASSWORD})")
    print(f"Map:          {url}/map")
    print(f"Warden form:  {url}/reports/new  (log in as warden / {DEMO_PASSWORD})")
    for episode_id in violations:
        print(f"Violation:    {url}/episodes/{episode_id}")
    if serve:
        print("\nThe centre keeps running; Ctrl-C to stop.")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0 if arrived and all(states.get(v) == "pending_review" for v in violations) else 1


def _serve_wanted(args: argparse.Namespace) -> bool:
    return args.serve if args.serve is not None else sys.stdout.isatty()


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
