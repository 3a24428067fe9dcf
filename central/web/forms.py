"""Reading a report form (the warden's page and Open311's multipart/url-encoded body)
into a `Submission`: the same fields, the same `attribute[code]` convention, the same
photo limit, in one place."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile

from central.reports.filing import Submission


async def form_submission(form: FormData, photo_limit: int) -> Submission:
    """The report in `form`. The photo is read to one byte over `photo_limit`, so filing
    can tell "too big" apart without holding more."""
    media = form.get("media")
    data = None
    if isinstance(media, UploadFile) and (media.filename or media.size):
        data = await media.read(photo_limit + 1)
    text = dict(text_items(form))
    return Submission(
        service_code=text.get("service_code"),
        description=text.get("description", ""),
        lat=text.get("lat"),
        long=text.get("long"),
        address_string=text.get("address_string"),
        attributes=attribute_answers(text_items(form)),
        media=data,
        picked_on_map=text.get("position") == "map",
    )


def text_items(form: FormData) -> list[tuple[str, str]]:
    return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]


def attribute_answers(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`attribute[code]=v` (and `attribute[code][]=v` repeated, for multi-value lists)."""
    out: dict[str, Any] = {}
    for name, value in pairs:
        if not (name.startswith("attribute[") and "]" in name):
            continue
        code = name[len("attribute[") : name.index("]")]
        if name.endswith("[]"):
            out.setdefault(code, []).append(value)
        else:
            out[code] = value
    return out
