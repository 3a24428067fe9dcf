"""For the plate tests and benchmark: Chinese plates rendered onto a car-like scene.

No registry package ships photos of Chinese plates, so the tests draw them: the plate's
colours and layout (province, authority letter, separator dot, serial spaced evenly as on a
440 x 140 mm plate) in a CJK font from Debian's `fonts-wqy-microhei` (Apache-2.0), pasted on
the lower part of a plain car body in a road scene, with optional camera noise.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

# Where Debian's CJK fonts land; `make system-deps` installs the first one.
CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)

# Background and text colours (RGB) of each plate style.
STYLES = {
    "blue": ((20, 70, 190), (255, 255, 255)),
    "yellow": ((235, 180, 20), (0, 0, 0)),
    "green": ((80, 190, 90), (0, 0, 0)),  # bottom of the new-energy gradient
}


def cjk_font() -> Path:
    """A CJK-capable font, or an error saying how to install one (never a skip)."""
    for path in CJK_FONTS:
        if path.exists():
            return path
    raise FileNotFoundError(
        "no CJK font: run `make system-deps` (apt-get install fonts-wqy-microhei)"
    )


def render_plate(text: str, style: str = "blue", height: int = 70) -> np.ndarray:
    """A BGR plate image of `text` (7 or 8 characters, no separator), 440:140 proportions."""
    from PIL import Image, ImageDraw, ImageFont

    width = round(height * 440 / 140)
    background, ink = STYLES[style]
    image = Image.new("RGB", (width, height), background)
    if style == "green":  # new-energy plates fade from white at the top to green
        top = np.array([235, 245, 235], np.float32)
        bottom = np.array(background, np.float32)
        ramp = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
        pixels = top * (1 - ramp) + bottom * ramp
        image = Image.fromarray(np.repeat(pixels, width, axis=1).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    edge = max(2, height // 25)
    border = (255, 255, 255) if style == "blue" else (0, 0, 0)
    draw.rectangle([edge, edge, width - 1 - edge, height - 1 - edge], outline=border, width=edge)

    # Plate characters are tall and narrow (45 x 90 mm): draw the row in the font's own
    # proportions, then squeeze it into the plate like the regulation typeface.
    font = ImageFont.truetype(str(cjk_font()), 100)
    row_text = f"{text[:2]}·{text[2:]}"
    row = Image.new("L", (140 * len(row_text), 160), 0)
    ImageDraw.Draw(row).text((20, 10), row_text, font=font, fill=255)
    row = row.crop(row.getbbox())
    inner_w, inner_h = round((width - 4 * edge) * 0.94), round(height * 0.72)
    mask = row.resize((inner_w, inner_h), Image.Resampling.LANCZOS)
    ink_layer = Image.new("RGB", mask.size, ink)
    image.paste(ink_layer, ((width - inner_w) // 2, (height - inner_h) // 2), mask)
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)


def car_scene(
    plate: np.ndarray, size: tuple[int, int] = (1280, 720), car_box=(420, 200, 900, 620)
) -> tuple[np.ndarray, np.ndarray]:
    """A road with a plain car (body, rear window, lights, tyres) carrying `plate` low on
    its rear; returns the BGR frame and the car's box (xyxy, float32)."""
    w, h = size
    frame = np.full((h, w, 3), (95, 100, 100), np.uint8)  # asphalt
    frame[: h // 4] = (200, 170, 140)  # sky / buildings band
    cv2.line(frame, (0, int(h * 0.9)), (w, int(h * 0.9)), (230, 230, 230), 6)  # lane marking
    x0, y0, x1, y1 = car_box
    cw, ch = x1 - x0, y1 - y0
    for tx in (x0 + cw // 8, x1 - cw // 8 - cw // 6):  # tyres
        cv2.rectangle(frame, (tx, y1 - ch // 8), (tx + cw // 6, y1), (25, 25, 25), -1)
    cv2.rectangle(frame, (x0, y0 + ch // 3), (x1, y1 - ch // 10), (60, 60, 150), -1)  # body
    cv2.rectangle(frame, (x0 + cw // 8, y0), (x1 - cw // 8, y0 + ch // 3), (60, 60, 150), -1)
    cv2.rectangle(  # rear window
        frame, (x0 + cw // 6, y0 + ch // 20), (x1 - cw // 6, y0 + ch // 3), (70, 50, 40), -1
    )
    for lx in (x0 + cw // 30, x1 - cw // 30 - cw // 6):  # tail lights
        cv2.rectangle(frame, (lx, y0 + ch * 4 // 10), (lx + cw // 6, y0 + ch // 2), (0, 0, 200), -1)
    cv2.rectangle(frame, (x0, y1 - ch // 4), (x1, y1 - ch // 10), (45, 45, 45), -1)  # bumper
    ph, pw = plate.shape[:2]
    px, py = (x0 + x1 - pw) // 2, y1 - ch // 4 - ph - ch // 40
    frame[py : py + ph, px : px + pw] = plate
    return frame, np.array(car_box, np.float32)


def camera_noise(image: np.ndarray, seed: int, strength: float = 1.0) -> np.ndarray:
    """The same scene through a cheap camera: sensor noise, defocus, exposure, JPEG."""
    rng = np.random.default_rng(seed)
    out = image.astype(np.float32) * rng.uniform(0.75, 1.15) + rng.uniform(-20, 20)
    out += rng.normal(0, 8 * strength, out.shape)
    out = np.clip(out, 0, 255).astype(np.uint8)
    out = cv2.GaussianBlur(out, (0, 0), 0.4 + 0.6 * strength * rng.random())
    quality = int(rng.integers(45, 85))
    ok, jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
