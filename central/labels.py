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

# Why a state changed (audit `reason`), for the moves the system and the officers make;
# a dismissal's reason is one of the workflow's DISMISS_REASON_LABELS.
REASONS = {
    "violation": N_("warnings ignored: a violation"),
    "dissuaded": N_("left after a warning"),
    "cleared": N_("left within the grace period"),
    "expired": N_("still there when the rule ended"),
    "deadline_passed": N_("review deadline passed"),
    "ticket": N_("ticket issued"),
    "undo": N_("decision withdrawn"),
    "filed": N_("filed"),
    "handled_on_the_spot": N_("handled on the spot"),
    "escalated": N_("not acknowledged in time"),
    "acknowledge": N_("acknowledged"),
    "dispatch": N_("dispatched"),
    "resolve": N_("resolved"),
    "reject": N_("rejected"),
    "deactivated": N_("account deactivated"),
    "activated": N_("account activated"),
    "password_set": N_("new password set"),
    "keys_revoked": N_("API keys revoked"),
}
# Who acted, when it was not a person.
SYSTEM_ACTORS = {"scheduler": N_("deadline scheduler"), "system": N_("system")}

# The form's fields, as a refused report names them.
FIELDS = {
    "service_code": N_("Category"),
    "location": N_("Where"),
    "address_string": N_("Where"),
    "media": N_("Photo"),
    "description": N_("What happened"),
}

# Where a report's place came from (`location_source`).
LOCATION_SOURCES = {
    "exif": N_("GPS in the photo"),
    "device": N_("phone position"),
    "map": N_("tapped on the map"),
    "typed": N_("typed"),
}

# What became of a spoken warning (the announcer's `status`).
ANNOUNCEMENT_STATUSES = {
    "queued": N_("still queued"),
    "played": N_("played"),
    "failed": N_("the speaker failed"),
    "text_only": N_("quiet hours: shown as text only"),
    "muted": N_("speaker muted from the centre"),
    "covered": N_("the same words had just been played in this zone"),
    "limit": N_("this vehicle had all its announcements"),
    "stale": N_("waited too long to be played"),
    "disabled": N_("announcements are off"),
}

# What a role may do (`central.roles.Permission`), as a refusal names it.
PERMISSIONS = {
    "view_reviews": N_("see the reviews"),
    "decide": N_("decide reviews"),
    "supervise": N_("supervise escalations"),
    "view_dashboard": N_("see the dashboard"),
    "export": N_("export records"),
    "manage_users": N_("manage accounts"),
    "file_reports": N_("file field reports"),
    "handle_reports": N_("handle field reports"),
}
# What may be done to a field report, as a refusal names it.
REPORT_ACTIONS = {
    "acknowledge": N_("acknowledge"),
    "dispatch": N_("dispatch"),
    "resolve": N_("resolve"),
    "reject": N_("reject"),
}
# A refusal's values that are codes, by placeholder name: said in the reader's words.
VALUE_WORDS = {
    "role": ROLES,
    "state": STATES,
    "permission": PERMISSIONS,
    "action": REPORT_ACTIONS,
}
