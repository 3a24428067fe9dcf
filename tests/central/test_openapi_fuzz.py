"""The API document is true to the code: schemathesis generates requests from
/openapi.json and sends them to a real `central serve`, as every role (and anonymously),
with a fixed seed and a bounded number of cases per operation, and runs its default checks
on every answer (no server error; status code, content type, headers and body as
documented; schema-valid requests accepted, invalid ones refused).

One setting differs from the defaults, for the operations in `RULES` only: there
`positive_data_acceptance` also accepts 400, 413, 415 and 422. Their rules hold between
fields or against the data, and no schema can say them: `until` before `since` (or
`end_date` before `start_date`), an export over a year, a dismissal for "other" or a
rejection without a note, a role that does not exist, a report whose category needs answers
it lacks or whose `media` bytes are no photo. Every other
operation runs with the defaults, and the conformance checks see every answer's body.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.config import SchemathesisConfig

from central.testing.centres import PASSWORD
from central.testing.server import central_serve

CASES_PER_OPERATION = 8
ROLES = ("anonymous", "walt", "olga", "sam", "ada")
# Logging out would end the session the rest of the run uses.
SKIPPED = {("DELETE", "/api/v1/session")}
ACCEPTED = ["2xx", "3xx", "400", "401", "403", "404", "409", "413", "415", "422", "429", "5xx"]
RULES = {
    ("GET", "/api/v1/export/tickets.csv"),
    ("GET", "/api/v1/export/dissuasions.csv"),
    ("GET", "/api/v1/export/reports.csv"),
    ("GET", "/api/v1/reports/stats"),
    ("POST", "/api/v1/episodes/{episode_id}/dismiss"),
    ("POST", "/api/v1/users"),
    ("POST", "/api/v1/reports/{report_id}/{action}"),
    ("GET", "/open311/v2/requests.json"),
    ("POST", "/open311/v2/requests.json"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with central_serve(tmp_path_factory.mktemp("fuzz")) as running:
        yield running


@pytest.fixture(scope="module")
def credentials(server) -> dict[str, dict[str, str]]:
    """Every role signs in before any fuzzing: the generated wrong logins on
    /api/v1/session soon lock this address out (central.throttle), as they should."""
    return {role: _credentials(server, role) for role in ROLES}


def _credentials(server, role: str) -> dict[str, str]:
    """The role's API key (Open311) and a logged-in session with its CSRF token (/api)."""
    if role == "anonymous":
        return {}
    with httpx.Client(base_url=server.url) as client:
        login = client.post("/api/v1/session", json={"username": role, "password": PASSWORD})
        login.raise_for_status()
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return {
        "Authorization": f"Bearer {server.keys[role]}",
        "X-CSRF-Token": login.json()["csrf_token"],
        "Cookie": cookie,
    }


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_documented(server, credentials, role):
    relaxed = SchemathesisConfig.from_dict(
        {"checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}}}
    )
    url = f"{server.url}/openapi.json"
    schemas = {
        False: schemathesis.openapi.from_url(url),
        True: schemathesis.openapi.from_url(url, config=relaxed),
    }
    headers = credentials[role]
    failures: dict[str, set[str]] = {}
    seen = 0
    for with_rules, schema in schemas.items():
        for operation in (result.ok() for result in schema.get_all_operations()):
            key = (operation.method.upper(), operation.path)
            if key in SKIPPED or (key in RULES) != with_rules:
                continue
            seen += 1
            _fuzz(server, operation, headers, failures)
    assert seen > 20
    report = "\n\n".join(f"{label}:\n" + "\n".join(sorted(f)) for label, f in failures.items())
    assert not failures, report


def _fuzz(server, operation, headers: dict[str, str], failures: dict[str, set[str]]) -> None:
    """Run the operation's generated cases; record what the checks found under its label."""
    label = f"{operation.method.upper()} {operation.path}"

    @given(case=operation.as_strategy())
    @settings(
        max_examples=CASES_PER_OPERATION,
        derandomize=True,  # a fixed seed: the same cases on every run
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def check(case) -> None:
        try:
            case.call_and_validate(base_url=server.url, headers=headers)
        except (AssertionError, BaseExceptionGroup) as exc:
            failures.setdefault(label, set()).add(str(exc)[:1500])

    check()
