"""The site config: one YAML file per edge node, validated before anything runs.

Every field says what it is for and its bounds (after Frigate's config), models forbid
unknown keys so a typo is an error rather than a silently ignored setting, and zone
polygons may be relative (0-1) so a camera resolution change does not break a site.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from announcer.config import AnnouncerConfig
from configbase import StrictModel
from edge.retention import RetentionConfig
from edge.schedule import ScheduleRule, parse_rule
from models.coco import CLASS_ID, VEHICLE_CLASSES
from mqtt.config import MqttConfig
from mqtt.topics import check_camera_id, check_id

Seconds = Annotated[float, Field(ge=0)]


class LadderPolicy(StrictModel):
    """The warn-first ladder of one zone (design.md, "Warning ladder")."""

    grace_s: Seconds = Field(60, title="Grace", description="Stopped this long before warning 1.")
    repeat_s: Seconds = Field(
        120, title="Repeat", description="From warning 1 to warning 2 (may name the plate)."
    )
    final_s: Seconds = Field(
        180, title="Final", description="From warning 2 to recording a violation."
    )
    cooldown_s: Seconds = Field(
        900,
        title="Cooldown",
        description="The same vehicle is not re-warned or re-ticketed in this zone within it.",
    )

    def seconds_to_violation(self, warning: int) -> float:
        """From warning `warning` (1 or 2) to the violation: what the warning tells the
        driver ("move within 5 minutes", "within 15 seconds")."""
        return self.final_s + (self.repeat_s if warning == 1 else 0.0)


class ZoneConfig(StrictModel):
    id: str = Field(
        title="Zone id", description="Stable id used in events (1-64 letters, digits, _ or -)."
    )
    name: str = Field("", title="Name", description="What the sign says; used in announcements.")
    polygon: list[tuple[float, float]] = Field(
        title="Polygon",
        description="Corners in pixels, or all in 0-1 as fractions of the frame (3 or more).",
    )
    classes: list[str] = Field(
        default_factory=lambda: sorted(VEHICLE_CLASSES),
        title="Classes",
        description="COCO classes this rule applies to.",
    )
    schedule: list[str] = Field(
        default_factory=lambda: ["always"],
        title="Schedule",
        description="When parking is forbidden, e.g. '07:00-19:00 weekdays'; 'always' by default.",
    )
    policy: LadderPolicy | None = Field(
        None, title="Ladder", description="Overrides the node's default ladder for this zone."
    )

    @field_validator("id")
    @classmethod
    def _carried_by_the_contract(cls, value: str) -> str:
        return check_id(value, "zone id")

    @field_validator("polygon")
    @classmethod
    def _an_area(cls, polygon: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if len(polygon) < 3:
            raise ValueError(f"polygon needs at least 3 points, got {len(polygon)}")
        return polygon

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, classes: list[str]) -> list[str]:
        unknown = [c for c in classes if c not in CLASS_ID]
        if unknown:
            raise ValueError(f"unknown COCO classes {unknown}")
        return classes

    @field_validator("schedule")
    @classmethod
    def _readable_schedule(cls, rules: list[str]) -> list[str]:
        for rule in rules:
            parse_rule(rule)  # raises ValueError with the reason
        return rules

    @property
    def schedule_rules(self) -> list[ScheduleRule | None]:
        return [parse_rule(r) for r in self.schedule]

    @property
    def relative(self) -> bool:
        return all(0 <= x <= 1 and 0 <= y <= 1 for x, y in self.polygon)


class MotionConfig(StrictModel):
    """Cheap frame differencing so the detector only runs when something moved."""

    enabled: bool = Field(True, description="Skip detection on frames where nothing moved.")
    width: int = Field(160, ge=32, description="Grey frames are downscaled to this width.")
    pixel_threshold: int = Field(25, ge=1, le=255, description="Grey-level change that counts.")
    area_fraction: float = Field(
        0.002, gt=0, lt=1, description="Fraction of changed pixels that means motion."
    )
    recheck_s: Seconds = Field(
        5, description="Run the detector at least this often, to re-check stationary vehicles."
    )


class EpisodeRules(StrictModel):
    """How detections become parking episodes (design.md, "The parking episode")."""

    still_window_s: Seconds = Field(
        3, description="A vehicle counts as stopped after this long without moving."
    )
    still_iou: float = Field(
        0.75, gt=0, le=1, description="Box IoU with its anchor above which it has not moved."
    )
    release_iou: float = Field(
        0.5, gt=0, le=1, description="Box IoU with the anchor below which a parked vehicle left."
    )
    hidden_inside: float = Field(
        0.8,
        gt=0,
        le=1,
        description="A smaller box this much inside the anchor is the vehicle partly hidden.",
    )
    spot_covered: float = Field(
        0.5,
        gt=0,
        le=1,
        description="A box covering this share of a parked vehicle's spot may hide it: its "
        "track moving away then is an id swapped to a passing vehicle, not the vehicle leaving.",
    )
    takeover_iou: float = Field(
        0.5, gt=0, le=1, description="A new track this close to an episode's anchor takes it over."
    )
    occlusion_grace_s: Seconds = Field(
        12, description="An unseen vehicle is still there for this long (a bus passing in front)."
    )
    seen_within_s: Seconds = Field(
        2, description="A warning or violation needs the vehicle seen this recently."
    )
    congestion_min_stopped: int = Field(
        3, ge=2, description="Queueing vehicles (drove in, now stopped) that can make a jam."
    )
    congestion_ratio: float = Field(
        0.6,
        gt=0,
        le=1,
        description="Share of the traffic in view (moving or queueing; never parked cars) "
        "that must be queueing for a jam.",
    )
    queue_window_s: Seconds = Field(
        120,
        description="A vehicle that drove in and has stood this long is parked, not queueing: "
        "longer than a red light, so parked cars never make a jam.",
    )


class DetectorConfig(StrictModel):
    model: Path | None = Field(
        None, description="ONNX model; the prepared NanoDet when empty (roadguard models prepare)."
    )
    score_threshold: float = Field(0.3, gt=0, lt=1, description="Lowest detection score kept.")
    threads: int | None = Field(
        None,
        ge=1,
        le=256,
        description="Model runs at once for all the node's cameras, each on one core; one per "
        "core when empty.",
    )
    regions: Literal["frame", "zones", "frame+zones"] = Field(
        "frame",
        description="Detect on the whole frame, on crops around the zones (small, distant "
        "vehicles), or both.",
    )


class CameraConfig(StrictModel):
    id: str = Field(
        title="Camera id",
        description="1-64 letters, digits, _ or -; not status, health, cmd, ack or receipts "
        "(the node's own topics).",
    )
    source: str = Field(
        description="rtsp://, http(s)://, a video file, an image folder, a USB index, "
        "or scene:NAME for a scripted demo scene."
    )
    fps: float = Field(5, gt=0, le=60, description="Frames per second analysed (a cap).")
    zones: list[ZoneConfig] = Field(min_length=1, description="No-parking zones in this view.")
    motion: MotionConfig | None = Field(None, description="Overrides the node's motion gate.")

    @field_validator("id")
    @classmethod
    def _carried_by_the_contract(cls, value: str) -> str:
        return check_camera_id(value)

    @model_validator(mode="after")
    def _unique_zone_ids(self) -> CameraConfig:
        ids = [z.id for z in self.zones]
        if len(ids) != len(set(ids)):
            raise ValueError(f"zone ids must be unique per camera, got {ids}")
        return self


class PlatesConfig(StrictModel):
    """The optional plate reader: how often one vehicle is read and how reads are voted."""

    every_s: float = Field(1.0, gt=0, description="Read one vehicle at most this often.")
    min_votes: int = Field(2, ge=1, le=10, description="Agreeing reads before a plate is set.")
    min_confidence: float = Field(0.8, gt=0, le=1, description="Weakest read that counts.")


class MetricsConfig(StrictModel):
    port: int = Field(9108, gt=0, lt=65536, description="Port of the /metrics endpoint.")
    address: str = Field(
        "127.0.0.1", description="Listen address; 0.0.0.0 to let a remote Prometheus scrape."
    )


class OutputConfig(StrictModel):
    episode_log: Path = Field(
        Path("roadguard-episodes.jsonl"), description="Episode transitions, one JSON per line."
    )
    evidence_dir: Path = Field(Path("roadguard-evidence"), description="Evidence JPEGs.")
    retention: RetentionConfig = Field(
        default_factory=RetentionConfig, description="How long evidence is kept on the box."
    )
    state_file: Path | None = Field(
        None,
        description="Open episodes, kept so a restart neither re-warns nor forgets a vehicle; "
        "state-<node id>.db in the data dir when empty.",
    )


class SiteConfig(StrictModel):
    node_id: str = Field(
        title="Node id", description="Unique per edge box (1-64 letters, digits, _ or -)."
    )
    cameras: list[CameraConfig] = Field(min_length=1)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    ladder: LadderPolicy = Field(
        default_factory=LadderPolicy, description="Default ladder for zones without their own."
    )
    motion: MotionConfig = Field(default_factory=MotionConfig)
    episodes: EpisodeRules = Field(default_factory=EpisodeRules)
    output: OutputConfig = Field(default_factory=OutputConfig)
    announcer: AnnouncerConfig = Field(
        default_factory=AnnouncerConfig, description="Voice warnings at each ladder step."
    )
    mqtt: MqttConfig | None = Field(
        None, description="The broker of the centre; without it episodes only go to the log."
    )
    health_interval_s: float = Field(
        60, ge=1, le=3600, description="How often the node reports its health to the centre."
    )
    plates: PlatesConfig | None = Field(
        None, description="Read plates of vehicles in an episode (the `plates` extra)."
    )
    metrics: MetricsConfig | None = Field(
        None, description="A Prometheus endpoint on the node; off when empty."
    )

    @field_validator("node_id")
    @classmethod
    def _carried_by_the_contract(cls, value: str) -> str:
        return check_id(value, "node id")

    @model_validator(mode="after")
    def _unique_camera_ids(self) -> SiteConfig:
        ids = [c.id for c in self.cameras]
        if len(ids) != len(set(ids)):
            raise ValueError(f"camera ids must be unique, got {ids}")
        return self

    def policy_for(self, zone: ZoneConfig) -> LadderPolicy:
        return zone.policy or self.ladder

    def motion_for(self, camera: CameraConfig) -> MotionConfig:
        return camera.motion or self.motion
