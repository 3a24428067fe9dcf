"""Report categories: the Open311 "services" a road warden can file, per county.

Each category has typed attributes (Open311 datatypes: string, number, datetime, text,
singlevaluelist, multivaluelist) and an urgency. An urgent category must be acknowledged
within `ack_deadline_s` or it escalates up `escalation_chain`. Counties differ (one has
landslides, another tractors carrying people), so the list is configuration: the shipped
defaults (default_categories.yaml beside this module), or a YAML file named in
`ReportsConfig.categories_file` (`roadguard central categories` prints the defaults as a
starting point).
"""

from __future__ import annotations

import enum
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, PrivateAttr, model_validator

from central.text import N_, Said
from configbase import StrictModel, load_yaml

CODE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class AttributeType(enum.StrEnum):
    string = "string"
    number = "number"
    datetime = "datetime"
    text = "text"
    singlevaluelist = "singlevaluelist"
    multivaluelist = "multivaluelist"


LIST_TYPES = (AttributeType.singlevaluelist, AttributeType.multivaluelist)


class AnswerInvalid(ValueError):
    """An answer a question does not take; `said` in the reader's language on the form."""

    def __init__(self, template: str, **values: Any) -> None:
        self.said = Said(template, values)
        super().__init__(str(self.said))


class AttributeValue(StrictModel):
    key: str = Field(pattern=CODE_PATTERN, title="Key", description="Value sent by clients.")
    name: str = Field(min_length=1, title="Name", description="What the warden reads.")


class ServiceAttribute(StrictModel):
    """One question of a category, shaped like an Open311 service-definition attribute."""

    code: str = Field(pattern=CODE_PATTERN, title="Code", description="`attribute[code]`.")
    description: str = Field(min_length=1, title="Question", description="Shown on the form.")
    datatype: AttributeType = Field(title="Type", description="Open311 datatype.")
    required: bool = Field(True, title="Required", description="A report needs an answer.")
    datatype_description: str = Field(
        "", title="Hint", description="Help text for the value, e.g. a plate's format."
    )
    values: list[AttributeValue] = Field(
        default_factory=list, title="Choices", description="For the two list types only."
    )
    minimum: float | None = Field(None, title="Minimum", description="For numbers.")
    maximum: float | None = Field(None, title="Maximum", description="For numbers.")
    max_length: int = Field(200, gt=0, le=4000, title="Longest", description="For text.")

    @model_validator(mode="after")
    def _values_only_for_lists(self) -> ServiceAttribute:
        if self.datatype in LIST_TYPES and not self.values:
            raise ValueError(f"a {self.datatype} needs `values`")
        if self.datatype not in LIST_TYPES and self.values:
            raise ValueError("only list types take `values`")
        return self

    def parse(self, raw: Any) -> Any:
        """The typed value of a submitted answer; ValueError says what is wrong with it.
        Forms send strings; JSON clients may send numbers and lists."""
        if self.datatype == AttributeType.multivaluelist:
            items = raw if isinstance(raw, list) else [v for v in str(raw).split(",") if v]
            keys = {v.key for v in self.values}
            bad = [str(i) for i in items if str(i) not in keys]
            if bad:
                raise AnswerInvalid(N_("not one of the choices: %(bad)s"), bad=", ".join(bad))
            return [str(i) for i in items]
        if isinstance(raw, list):
            raise AnswerInvalid(N_("takes one value"))
        text = str(raw).strip()
        if self.datatype == AttributeType.number:
            try:
                number = float(text)
            except ValueError:
                raise AnswerInvalid(N_("not a number: %(text)s"), text=text) from None
            if not math.isfinite(number):
                raise AnswerInvalid(N_("not a finite number"))
            if self.minimum is not None and number < self.minimum:
                raise AnswerInvalid(N_("at least %(n)g"), n=self.minimum)
            if self.maximum is not None and number > self.maximum:
                raise AnswerInvalid(N_("at most %(n)g"), n=self.maximum)
            return int(number) if number.is_integer() else number
        if self.datatype == AttributeType.datetime:
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise AnswerInvalid(N_("not a date and time: %(text)s"), text=text) from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC).isoformat()
        if self.datatype == AttributeType.singlevaluelist:
            keys = {v.key for v in self.values}
            if text not in keys:
                raise AnswerInvalid(N_("not one of the choices: %(bad)s"), bad=text)
            return text
        if len(text) > self.max_length:
            raise AnswerInvalid(N_("at most %(n)d characters"), n=self.max_length)
        return text

    def label(self, key: str) -> str:
        return next((v.name for v in self.values if v.key == key), key)


class AttributeText(StrictModel):
    """An attribute's words in another language; what is left out stays as written."""

    description: str | None = Field(None, min_length=1, title="Question")
    datatype_description: str | None = Field(None, title="Hint")
    values: dict[str, str] = Field(default_factory=dict, title="Choices by key")


class CategoryText(StrictModel):
    """A category's words in another language (`translations: {zh_CN: ...}` in the YAML):
    a county writes its categories once, in each language its people read."""

    name: str | None = Field(None, min_length=1, max_length=128, title="Name")
    description: str | None = Field(None, title="Description")
    group: str | None = Field(None, title="Group")
    keywords: list[str] | None = Field(None, title="Keywords")
    attributes: dict[str, AttributeText] = Field(default_factory=dict, title="Attributes by code")


class ReportCategory(StrictModel):
    """One Open311 service: what a warden reports, and how fast someone must react."""

    code: str = Field(pattern=CODE_PATTERN, title="Service code", description="`service_code`.")
    name: str = Field(min_length=1, max_length=128, title="Name", description="`service_name`.")
    description: str = Field("", title="Description", description="One line for the form.")
    group: str = Field("", title="Group", description="Open311 `group`.")
    keywords: list[str] = Field(default_factory=list, title="Keywords", description="Search.")
    urgency: Literal["urgent", "normal"] = Field(
        "normal",
        title="Urgency",
        description="Urgent reports alert the squad at once and escalate when not acknowledged.",
    )
    ack_deadline_s: float = Field(
        180, gt=0, title="Acknowledge within", description="Seconds, for urgent categories."
    )
    escalate_again_s: float | None = Field(
        None,
        gt=0,
        title="Next escalation after",
        description="Seconds between later escalation steps; default: `ack_deadline_s`.",
    )
    handled_on_the_spot: bool = Field(
        False,
        title="Handled on the spot",
        description="The warden already dealt with it (a dissuasion): filed as resolved.",
    )
    attributes: list[ServiceAttribute] = Field(default_factory=list, title="Attributes")
    translations: dict[str, CategoryText] = Field(
        default_factory=dict,
        title="Translations",
        description="The same words in other languages, by language code (zh_CN, en).",
    )

    @property
    def urgent(self) -> bool:
        return self.urgency == "urgent"

    @property
    def next_step_s(self) -> float:
        return self.escalate_again_s or self.ack_deadline_s

    @model_validator(mode="after")
    def _unique_attribute_codes(self) -> ReportCategory:
        codes = [a.code for a in self.attributes]
        if len(codes) != len(set(codes)):
            raise ValueError(f"attribute codes repeat: {sorted(codes)}")
        for language, text in self.translations.items():
            unknown = sorted(set(text.attributes) - set(codes))
            if unknown:
                raise ValueError(f"translations.{language}: no attributes {unknown}")
        return self

    def localized(self, language: str) -> ReportCategory:
        """This category in `language`, as far as it is translated."""
        text = self.translations.get(language)
        if text is None:
            return self
        attributes = []
        for attribute in self.attributes:
            words = text.attributes.get(attribute.code)
            if words is not None:
                values = [
                    v.model_copy(update={"name": words.values.get(v.key, v.name)})
                    for v in attribute.values
                ]
                attribute = attribute.model_copy(
                    update={
                        "description": words.description or attribute.description,
                        "datatype_description": words.datatype_description
                        or attribute.datatype_description,
                        "values": values,
                    }
                )
            attributes.append(attribute)
        update = {
            key: value
            for key, value in text.model_dump(exclude={"attributes"}).items()
            if value is not None
        }
        return self.model_copy(update={**update, "attributes": attributes})


class ReportCategories(StrictModel):
    """One county's categories and who an unacknowledged urgent report goes to next."""

    county: str = Field("default", title="County", description="Shown on the warden's form.")
    escalation_chain: list[Literal["supervisor", "admin"]] = Field(
        default_factory=lambda: ["supervisor", "admin"],
        min_length=1,
        title="Escalation chain",
        description="Roles an unacknowledged urgent report escalates to, in order.",
    )
    categories: list[ReportCategory] = Field(min_length=1, title="Categories")
    _localized: dict[str, ReportCategories] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unique_codes(self) -> ReportCategories:
        codes = [c.code for c in self.categories]
        if len(codes) != len(set(codes)):
            raise ValueError("category codes repeat")
        return self

    def get(self, code: str) -> ReportCategory | None:
        return next((c for c in self.categories if c.code == code), None)

    def localized(self, language: str) -> ReportCategories:
        """Every category in `language`, as far as the county translated it. Made once per
        language: every page (the live queue's refresh included) asks for it."""
        if language not in self._localized:
            translated = self.model_copy(
                update={"categories": [c.localized(language) for c in self.categories]}
            )
            # one cache for the family: a translation asked for another language answers
            # from the county's own words, never from a translation of them
            translated._localized = self._localized
            self._localized[language] = translated
        return self._localized[language]

    def question(self, code: str | None, attribute: str) -> str:
        """The words of `attribute`'s question in category `code` (its code if unknown)."""
        category = self.get(code or "")
        found = category and next((a for a in category.attributes if a.code == attribute), None)
        return found.description if found else attribute.replace("_", " ")

    def name_of(self, code: str, fallback: str = "") -> str:
        category = self.get(code)
        return category.name if category else fallback or code

    @classmethod
    def from_yaml(cls, path: Path) -> ReportCategories:
        """A county's categories; `InvalidFile` names the file, line and key of a problem."""
        return load_yaml(path, cls, what="categories file")

    def to_yaml(self) -> str:
        return yaml.safe_dump(
            self.model_dump(mode="json", exclude_defaults=True), sort_keys=False, allow_unicode=True
        )


DEFAULT_CATEGORIES_FILE = Path(__file__).with_name("default_categories.yaml")


class ReportsConfig(StrictModel):
    """Settings of warden reports (part of `CentralSettings`)."""

    categories_file: Path | None = Field(
        None,
        title="Categories file",
        description="YAML of the county's categories; empty: the shipped defaults.",
    )
    max_media_bytes: int = Field(
        6 * 1024 * 1024, gt=0, title="Photo size limit", description="Largest accepted photo."
    )
    max_media_pixels: int = Field(
        24_000_000,
        gt=0,
        title="Photo pixel limit",
        description="Checked from the header before decoding: refuses decompression bombs. "
        "24 MP holds a phone camera's photo (6000 x 4000) and costs ~96 MB to decode.",
    )
    media_formats: list[Literal["JPEG", "PNG", "WEBP"]] = Field(
        default_factory=lambda: ["JPEG", "PNG", "WEBP"],
        min_length=1,
        title="Photo formats",
        description="Formats accepted, as Pillow decodes them (checked by content).",
    )
    mqtt_alerts: bool = Field(
        False,
        title="MQTT alerts",
        description="Publish urgent reports and escalations on roadguard/v1/central/alerts/"
        "<squad> through the broker in `mqtt`.",
    )

    def load_categories(self) -> ReportCategories:
        return ReportCategories.from_yaml(self.categories_file or DEFAULT_CATEGORIES_FILE)
