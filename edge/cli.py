"""Edge commands: `config check`, `edge run`, and `demo` (the end-to-end run on the embedded
defaults that `make demo` starts)."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from collections import Counter
from pathlib import Path

log = logging.getLogger(__name__)

DEMO_CONFIG = Path(__file__).parent / "defaults" / "demo.yaml"


def register(sub: argparse._SubParsersAction) -> None:
    config = sub.add_parser("config", help="site config files")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser("check", help="validate a site config and say what is wrong")
    check.add_argument("file", type=Path)
    check.set_defaults(func=_config_check)

    edge = sub.add_parser("edge", help="the edge node")
    edge_sub = edge.add_subparsers(dest="edge_command", required=True)
    run = edge_sub.add_parser("run", help="run the node on a site config")
    run.add_argument("--config", type=Path, required=True)
    run.add_argument("--max-frames", type=int, help="stop each camera after N frames")
    run.set_defaults(func=_edge_run)

    demo = sub.add_parser("demo", help="run the demo scene end to end and summarise it")
    demo.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder")
    demo.set_defaults(func=_demo)


def _config_check(args: argparse.Namespace) -> int:
    from edge.config_loader import ConfigError, load_site_config

    try:
        site = load_site_config(args.file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    zones = sum(len(c.zones) for c in site.cameras)
    print(f"{args.file}: OK — node {site.node_id}, {len(site.cameras)} camera(s), {zones} zone(s)")
    return 0


def _edge_run(args: argparse.Namespace) -> int:
    from edge.config_loader import ConfigError, load_site_config

    try:
        site = load_site_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return run_node(site, max_frames=args.max_frames)


def run_node(site, max_frames: int | None = None) -> int:  # noqa: ANN001 - SiteConfig
    from edge.node import EdgeNode
    from edge.sinks import JsonLinesSink
    from models.detector import ModelNotPrepared, load_detector

    try:
        detector = load_detector(site.detector.model, score_threshold=site.detector.score_threshold)
    except ModelNotPrepared as exc:
        print(exc, file=sys.stderr)
        return 2
    sink = JsonLinesSink(site.output.episode_log)
    node = EdgeNode(site, detector, sink, max_frames=max_frames)
    try:
        node.run()
    except KeyboardInterrupt:
        node.stop.set()
    finally:
        sink.close()
    return 0 if not any(node.errors.values()) else 1


def _demo(args: argparse.Namespace) -> int:
    from announcer.config import WavOutput
    from edge.config_loader import load_site_config

    site = load_site_config(DEMO_CONFIG)
    out = args.out
    log_path = out / "episodes.jsonl"
    log_path.unlink(missing_ok=True)
    announcements = out / "announcements"
    shutil.rmtree(announcements, ignore_errors=True)
    site = site.model_copy(
        update={
            "output": site.output.model_copy(
                update={"episode_log": log_path, "evidence_dir": out / "evidence"}
            ),
            "announcer": site.announcer.model_copy(
                update={"outputs": [WavOutput(dir=announcements)]}
            ),
        }
    )
    print(f"RoadGuard demo: scene {site.cameras[0].source}, ladder {site.ladder}")
    status = run_node(site)
    if status != 0:
        return status
    return summarise(log_path, out / "evidence", announcements)


def _describe_step(record: dict) -> str:
    """One transition for a person: a stop is dated from when the vehicle stood still, not
    from when the node became sure of it."""
    if record["event"] == "stopped":
        return f"stopped @{record['stopped_at']:.1f}s"
    number = f" #{record['warning']}" if "warning" in record else ""
    return f"{record['event']}{number} @{record['time']:.1f}s"


def summarise(log_path: Path, evidence_dir: Path, announcements: Path | None = None) -> int:
    """Print each episode's transitions from the log: what an operator checks after a run."""
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line]
    by_episode: dict[str, list[dict]] = {}
    for record in records:
        by_episode.setdefault(record["episode_id"], []).append(record)
    print(f"\nEpisode log: {log_path}  evidence: {evidence_dir}")
    for n, (episode_id, steps) in enumerate(by_episode.items(), 1):
        first = steps[0]
        chain = " → ".join(_describe_step(r) for r in steps)
        print(f"  {n}. {first['vehicle_class']} in {first['zone_id']} ({episode_id[:8]}): {chain}")
    if announcements is not None and announcements.is_dir():
        print(f"\nAnnouncements (WAV files in {announcements}):")
        said = {  # "<episode8>-w<n>", as the WAV output names its files -> the words
            f"{r['episode_id'][:8]}-w{r['warning']}": r["warnings"][-1]["announcement"]["text"]
            for r in records
            if r["event"] == "warned" and "announcement" in r["warnings"][-1]
        }
        for wav in sorted(announcements.glob("*.wav")):
            print(f"  {wav.name}: {said.get(wav.stem.split('-', 1)[-1], '?')}")
    outcomes = Counter(r["event"] for r in records if r["event"] in ("dissuaded", "violation"))
    print(f"\nViolations: {outcomes['violation']}  Dissuaded: {outcomes['dissuaded']}")
    return 0
