"""Words the pages show for the centre's codes (states, roles, vehicle classes), in the
source language; the templates translate them (`state_label`, `role_label`...)."""

from __future__ import annotations

from central.text import N_

STATES = {
    # episodes
    "active": N_("active"),
    "cleared": N_("cleared"),
    "dissuaded": N_("dissuaded"),
    "expired": N_("expired"),
    "pending_review": N_("pending review"),
    "ticketed": N_("ticketed"),
    "dismissed": N_("dismissed"),
    "escalated": N_("escalated"),
    # warden reports
    "new": N_("new"),
    "acknowledged": N_("acknowledged"),
    "dispatched": N_("dispatched"),
    "resolved": N_("resolved"),
    "rejected": N_("rejected"),
}
ROLES = {
    "officer": N_("officer"),
    "supervisor": N_("supervisor"),
    "warden": N_("warden"),
    "admin": N_("admin"),
}
VEHICLES = {
    "car": N_("car"),
    "bus": N_("bus"),
    "truck": N_("truck"),
    "motorcycle": N_("motorcycle"),
    "bicycle": N_("bicycle"),
}
