"""Edge commands: `config check`, `edge run`, `bench capacity`, and `demo` (the end-to-end run
on the embedded defaults that `make demo` starts)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.config import SiteConfig
    from mqtt.payloads import EpisodeRecord

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

    quantise = edge_sub.add_parser(
        "quantise",
        help="an 8-bit copy of the detector, ~2.5x faster, kept only if it loses no vehicle",
    )
    quantise.add_argument("--model", type=Path, help="float ONNX model (default: the prepared)")
    quantise.add_argument("--out", type=Path, help="where to write it (default: models dir)")
    quantise.add_argument(
        "--score", type=float, default=0.3, help="the float model's score threshold (site's)"
    )
    quantise.set_defaults(func=_edge_quantise)

    # `bench` may be shared with other packages' measurements: add to it, never replace it.
    bench = sub.choices.get("bench") or sub.add_parser("bench", help="measure this box")
    if not hasattr(bench, "commands"):
        bench.commands = bench.add_subparsers(dest="bench_command", required=True)  # type: ignore[attr-defined]
    capacity = bench.commands.add_parser(  # type: ignore[attr-defined]
        "capacity",
        help="the most cameras this box keeps in real time",
        description="Runs the node's own pipeline on N copies of one source, read as fast "
        "as it decodes, and reports the largest N that keeps real time at --fps detections "
        "per second per camera, with the time each stage takes.",
    )
    capacity.add_argument(
        "--source", help="video file or image folder (default: vtest.avi, roadguard photos fetch)"
    )
    capacity.add_argument("--fps", type=_positive, default=2.0, help="detections/s per camera")
    capacity.add_argument(
        "--seconds", type=_positive, default=20.0, help="footage per camera in each run"
    )
    capacity.add_argument(
        "--cameras",
        type=int,
        nargs="+",
        metavar="N",
        help="run exactly these camera counts instead of searching",
    )
    capacity.add_argument("--model", type=Path, help="ONNX model (default: the prepared one)")
    capacity.add_argument(
        "--threads", type=int, help="model runs at once, one core each (default: cores)"
    )
    capacity.set_defaults(func=_bench_capacity)


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _load_site(path: Path) -> SiteConfig | None:
    """The site config at `path`, or None after printing why it is not one (exit code 2)."""
    from edge.config_loader import ConfigError, load_site_config

    try:
        return load_site_config(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def _config_check(args: argparse.Namespace) -> int:
    if (site := _load_site(args.file)) is None:
        return 2
    from cameras.sources import source_problem

    zones = sum(len(c.zones) for c in site.cameras)
    print(f"{args.file}: OK — node {site.node_id}, {len(site.cameras)} camera(s), {zones} zone(s)")
    for camera in site.cameras:  # the file is right; the box may not be yet
        problem = source_problem(camera.source)
        if problem is not None:
            print(f"{args.file}: warning: camera {camera.id!r}: {problem}", file=sys.stderr)
    return 0


def _edge_run(args: argparse.Namespace) -> int:
    if (site := _load_site(args.config)) is None:
        return 2
    return run_node(site, max_frames=args.max_frames, config_path=args.config)


def run_node(site, max_frames: int | None = None, config_path: Path | None = None) -> int:  # noqa: ANN001 - SiteConfig
    """Run the node until its cameras end (files, scenes) or Ctrl-C. With an `mqtt` section
    episodes, evidence and health also go to the centre, and the centre's commands work."""
    from edge.node import EdgeNode
    from edge.sinks import JsonLinesSink
    from edge.uplink import TeeSink, attach_commands, open_link
    from models.detector import ModelNotPrepared
    from models.worker import node_detector

    try:
        detector = node_detector(
            site.detector.model,
            site.detector.threads,
            score_threshold=site.detector.score_threshold,
        )
    except ModelNotPrepared as exc:
        print(exc, file=sys.stderr)
        return 2
    link = None
    sink = JsonLinesSink(site.output.episode_log)
    if site.mqtt is not None:
        link, uplink = open_link(site)
        sink = TeeSink(sink, uplink)
    node = EdgeNode(
        site,
        detector,
        sink,
        max_frames=max_frames,
        health_reporter=link.publish_health if link else None,
        health_interval_s=site.health_interval_s,
        keep_evidence=link.outbox.holds_episode if link else None,
    )
    if link is not None:
        attach_commands(link, node, config_path)
    if config_path is not None:
        _reload_on_sighup(node, config_path)
    if site.metrics is not None:
        from edge.metrics import serve_metrics

        depth = (lambda: link.outbox.depth) if link is not None else None
        serve_metrics(node, site.metrics.port, site.metrics.address, depth)
    try:
        node.run()
    except KeyboardInterrupt:
        node.shutdown()
    finally:
        if link is not None and not link.wait_drained(timeout=10):
            log.warning(
                "outbox not empty at exit: %d message(s) will be sent on the next start",
                link.outbox.depth,
            )
        sink.close()
    return 0 if not any(node.errors.values()) else 1


def _edge_quantise(args: argparse.Namespace) -> int:
    from cameras.photos import PhotoMissing
    from edge.calibration import calibration_frames, check_frames
    from models.quantise import QUANTISED_NAME, SCORE_MARGIN, QuantisationRefused, quantise
    from models.weights import default_model_path, models_dir

    if not args.verbose:  # each scene says it starts and ends
        logging.getLogger("cameras").setLevel(logging.WARNING)
    model = args.model or default_model_path()
    out = args.out or models_dir() / QUANTISED_NAME
    if not Path(model).is_file():
        print(f"no model at {model}: run `roadguard models prepare`", file=sys.stderr)
        return 2
    try:
        check = quantise(Path(model), out, calibration_frames(), check_frames(), args.score)
    except (PhotoMissing, ImportError, QuantisationRefused) as exc:
        print(exc, file=sys.stderr)
        return 2
    lower = round(args.score - SCORE_MARGIN, 3)
    print(f"{out}: keeps all {check.vehicles} vehicles the float model finds on the check "
          f"frames. Use it with `detector: {{model: {out}, score_threshold: {lower}}}` in "
          "the site config.")  # fmt: skip
    return 0


def _bench_capacity(args: argparse.Namespace) -> int:
    import os

    from tqdm import tqdm

    from cameras.photos import PhotoMissing, photo_path
    from cameras.sources import source_problem
    from edge.capacity import find_capacity, run_cameras, table
    from models.detector import ModelNotPrepared
    from models.worker import node_detector

    try:
        source = args.source or str(photo_path("campus_video"))
        detector = node_detector(args.model, args.threads)
    except (PhotoMissing, ModelNotPrepared) as exc:
        print(exc, file=sys.stderr)
        return 2
    if (problem := source_problem(source)) is not None:
        print(f"cannot bench on {source}: {problem}", file=sys.stderr)
        return 2
    if args.cameras and min(args.cameras) < 1:
        print("--cameras: counts must be at least 1", file=sys.stderr)
        return 2
    if not args.verbose:  # one line per camera start and end, times dozens of cameras
        for noisy in ("edge.node", "cameras"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    print(f"{source}, {args.fps:g} detections/s per camera, {args.seconds:g} s per run, "
          f"{os.cpu_count()} cores")  # fmt: skip

    def run(cameras: int):  # noqa: ANN202 - CapacityRun
        with tqdm(total=1, desc=f"{cameras:>3} camera(s)", unit="frame", leave=False) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            result = run_cameras(detector, source, cameras, args.fps, args.seconds, progress)
        verdict = "keeps real time" if result.keeps_up else "falls behind"
        print(f"{cameras:>3} camera(s): {result.realtime:.2f} of real time, {verdict}")
        return result

    if args.cameras:
        runs = [run(n) for n in args.cameras]
        print(table(runs))
        kept = [r.cameras for r in runs if r.keeps_up]
        print(f"\nLargest count run that kept real time: {max(kept) if kept else 'none'}")
    else:
        answer = find_capacity(run)
        runs = answer.runs
        print(table(runs))
        if answer.cameras:
            print(f"\nThis box keeps {answer.cameras} camera(s) in real time at {args.fps:g} "
                  f"detections/s each.")  # fmt: skip
        else:
            print(f"\nNot even {min(r.cameras for r in runs)} camera(s) kept real time "
                  f"(estimate: {answer.estimate}).")  # fmt: skip
    busiest = max(runs, key=lambda r: r.cameras)
    print(f"At {busiest.cpu_ms_per_frame:.0f} CPU ms per frame its cores could carry about "
          f"{busiest.cameras_on_idle_box:.0f} camera(s) with nothing else running; load "
          f"average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.")  # fmt: skip
    if args.model is None and (hint := _faster_model_hint()):
        print(hint)
    return 0


def _faster_model_hint() -> str:
    """What to try when the float model does not carry enough cameras: the 8-bit model runs
    the detector about 2.5x faster (on 2 cores: 28 cameras at 2 detections/s against 18)."""
    from models.quantise import QUANTISED_NAME
    from models.weights import models_dir

    quantised = models_dir() / QUANTISED_NAME
    if quantised.is_file():
        return (f"The 8-bit model is at {quantised}: `roadguard bench capacity --model "
                f"{quantised}` measures it.")  # fmt: skip
    return ("For more cameras: `roadguard edge quantise` makes an 8-bit model (about 2.5x "
            "faster) only if it loses no vehicle; then bench it with --model.")  # fmt: skip


def _reload_on_sighup(node, config_path: Path) -> None:  # noqa: ANN001 - EdgeNode
    """`systemctl reload roadguard-edge` (SIGHUP): apply the edited config, or log why not."""
    import signal
    import threading

    def reload() -> None:
        try:
            node.reload_from(config_path)
        except Exception as exc:  # the old config keeps running
            log.error("reload refused: %s", exc)

    def on_sighup(signum: int, frame: object) -> None:
        threading.Thread(target=reload, name="reload", daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGHUP, on_sighup)


def _describe_step(record: EpisodeRecord) -> str:
    """One transition for a person: a stop is dated from when the vehicle stood still, not
    from when the node became sure of it."""
    if record.event == "stopped":
        return f"stopped @{record.stopped_at:.1f}s"
    number = f" #{record.warning}" if record.warning else ""
    return f"{record.event}{number} @{record.time:.1f}s"


def summarise(log_path: Path, evidence_dir: Path, announcements: Path | None = None) -> int:
    """Print each episode's transitions from the log: what an operator checks after a run."""
    from edge.sinks import read_episode_log

    records = read_episode_log(log_path)
    by_episode: dict[str, list[EpisodeRecord]] = {}
    for record in records:
        by_episode.setdefault(record.episode_id, []).append(record)
    print(f"\nEpisode log: {log_path}  evidence: {evidence_dir}")
    for n, (episode_id, steps) in enumerate(by_episode.items(), 1):
        first = steps[0]
        chain = " → ".join(_describe_step(r) for r in steps)
        print(f"  {n}. {first.vehicle_class} in {first.zone_id} ({episode_id[:8]}): {chain}")
    if announcements is not None and announcements.is_dir():
        print(f"\nAnnouncements (WAV files in {announcements}):")
        said = {  # "<episode8>-w<n>", as the WAV output names its files -> the words
            f"{r.episode_id[:8]}-w{r.warning}": r.warnings[-1].announcement.text
            for r in records
            if r.event == "warned" and r.warnings[-1].announcement is not None
        }
        for wav in sorted(announcements.glob("*.wav")):
            print(f"  {wav.name}: {said.get(wav.stem.split('-', 1)[-1], '?')}")
    outcomes = Counter(str(r.event) for r in records)
    expired = f"  Expired: {outcomes['expired']}" if outcomes["expired"] else ""
    print(f"\nViolations: {outcomes['violation']}  Dissuaded: {outcomes['dissuaded']}{expired}")
    return 0
