"""`roadguard central serve | migrate | user add | user deactivate | user activate |
user password | user revoke-keys | user token`.

Settings come from the environment (`central.config`: `DATABASE_URL`, `ROADGUARD_SECRET_KEY`,
`MQTT_HOST`, ..., or any setting as `ROADGUARD_<PATH>`) and the options here; an option
wins over its variable.
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
from pathlib import Path
from urllib.parse import unquote, urlsplit


def register(sub: argparse._SubParsersAction) -> None:
    central = sub.add_parser("central", help="the central service: review pages, API, ingest")
    central_sub = central.add_subparsers(dest="central_command", required=True)

    serve = central_sub.add_parser("serve", help="run the web service (and the MQTT consumer)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--mqtt",
        metavar="HOST[:PORT]|URL",
        default=None,
        help="consume episodes from this broker (MQTT v5 shared subscription); "
        "mqtts://host:8883 for TLS",
    )
    serve.add_argument(
        "--mqtt-username",
        default=None,
        help="this worker's broker account (or MQTT_USERNAME); one account per worker",
    )
    serve.add_argument(
        "--mqtt-password-file",
        type=Path,
        default=None,
        help="read the broker password from this file (or MQTT_PASSWORD); never on the "
        "command line, where every user of the machine can read it",
    )
    serve.add_argument(
        "--mqtt-ca", type=Path, default=None, help="CA of the broker's TLS certificate (PEM)"
    )
    serve.add_argument("--share-group", default="central", help="shared-subscription group")
    serve.add_argument(
        "--client-id",
        default="",
        help="this worker's MQTT client id (or MQTT_CLIENT_ID); default central-<host>-<port>. "
        "It must be stable and one per worker: the broker keeps what the worker had not "
        "acknowledged when it stopped, and delivers it when it comes back",
    )
    serve.add_argument(
        "--review-window", type=float, default=None, help="seconds to decide a violation"
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="a demo on this machine: no ROADGUARD_SECRET_KEY needed and the demo accounts "
        "allowed, on 127.0.0.1 only (also ROADGUARD_DEMO=1)",
    )
    serve.set_defaults(func=_serve)

    migrate = central_sub.add_parser("migrate", help="bring the database schema to head")
    migrate.set_defaults(func=_migrate)

    user = central_sub.add_parser("user", help="accounts")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="add an account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=["officer", "supervisor", "warden", "admin"])
    add.add_argument("--name", default="", help="display name")
    add.add_argument("--township", default=None, help="the user's township (wardens)")
    add.add_argument(
        "--squad", default=None, help="the user's squad: urgent reports alert its officers"
    )
    add.add_argument(
        "--password-env",
        metavar="VAR",
        default=None,
        help="read the password from this environment variable (else: prompt)",
    )
    add.set_defaults(func=_user_add)
    token = user_sub.add_parser(
        "token", help="make an API key for an Open311 client acting as this user"
    )
    token.add_argument("username")
    token.add_argument("--label", default="", help="what the key is for")
    token.set_defaults(func=_user_token)
    for verb, active, about in (
        ("deactivate", False, "cut an account off: its sessions end and its API keys stop"),
        ("activate", True, "let a deactivated account in again"),
    ):
        switch = user_sub.add_parser(verb, help=about)
        switch.add_argument("username")
        switch.set_defaults(func=_user_switch, active=active)
    password = user_sub.add_parser(
        "password", help="set a new password (every session of the account ends)"
    )
    password.add_argument("username")
    password.add_argument(
        "--password-env", metavar="VAR", default=None, help="read it from this variable"
    )
    password.set_defaults(func=_user_password)
    revoke = user_sub.add_parser("revoke-keys", help="revoke the account's API keys")
    revoke.add_argument("username")
    revoke.add_argument("--label", default=None, help="only the keys with this label")
    revoke.set_defaults(func=_user_revoke)

    categories = central_sub.add_parser(
        "categories", help="print the report categories in use (YAML; a county's starting point)"
    )
    categories.set_defaults(func=_categories)


def _settings(args: argparse.Namespace):
    from pydantic import ValidationError

    from central.config import CentralSettings, MqttConfig, settings_error

    overrides: dict[str, object] = {}
    if getattr(args, "review_window", None):
        overrides["review_window_s"] = args.review_window
    try:
        settings = CentralSettings(**overrides)
    except ValidationError as exc:
        raise SystemExit(settings_error(exc)) from None
    if not getattr(args, "mqtt", None):
        return settings
    options = _mqtt_options(args)
    if not options.get("client_id") and not settings.mqtt.client_id:
        options["client_id"] = f"central-{socket.gethostname()}-{getattr(args, 'port', 0)}"
    mqtt = MqttConfig.model_validate({**settings.mqtt.model_dump(exclude_unset=True), **options})
    # A broker to consume from is a broker to publish urgent-report alerts to.
    reports = settings.reports.model_copy(update={"mqtt_alerts": True})
    return settings.model_copy(update={"mqtt": mqtt, "reports": reports})


def _mqtt_options(args: argparse.Namespace) -> dict[str, object]:
    """`--mqtt` and its companions as central `MqttConfig` fields."""
    target = args.mqtt if "://" in args.mqtt else f"mqtt://{args.mqtt}"
    parts = urlsplit(target)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise SystemExit(f"--mqtt {args.mqtt!r}: use HOST[:PORT], mqtt:// or mqtts://")
    values: dict[str, object] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or (8883 if parts.scheme == "mqtts" else 1883),
        "group": args.share_group,
    }
    if getattr(args, "client_id", ""):
        values["client_id"] = args.client_id
    if parts.scheme == "mqtts":
        values["tls"] = True
    if parts.username:
        values["username"] = unquote(parts.username)
    if getattr(args, "mqtt_username", None):
        values["username"] = args.mqtt_username
    if getattr(args, "mqtt_password_file", None):
        try:
            values["password"] = args.mqtt_password_file.read_text().strip()
        except OSError as exc:
            raise SystemExit(f"--mqtt-password-file: {exc}") from None
    if getattr(args, "mqtt_ca", None):
        values["tls"], values["tls_ca_file"] = True, args.mqtt_ca
    return values


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from central.centre import Centre
    from central.web import create_app

    settings = _settings(args)
    demo = settings.demo or args.demo
    refusal = _refuse_to_serve(settings.secret_key, demo, args.host)
    if refusal:
        raise SystemExit(refusal)
    centre = Centre.open(settings)
    if not demo:
        from central.users import demo_password_accounts

        with centre.db.session() as session:
            weak = demo_password_accounts(session)
        if weak:
            centre.close()
            raise SystemExit(
                f"error: account(s) {', '.join(weak)} still have the demo password: set new "
                "ones (roadguard central user password NAME) or deactivate them; --demo "
                "serves a demo on 127.0.0.1"
            )
    app = create_app(centre, run_consumer=bool(args.mqtt))
    print(f"RoadGuard central on http://{args.host}:{args.port}/ (API docs at /docs)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def _refuse_to_serve(secret: str | None, demo: bool, host: str) -> str | None:
    """Why `central serve` must not start, if it must not: no secret outside a demo (logins
    would end at each restart and differ between workers), a demo beyond this machine."""
    if demo:
        if host not in ("127.0.0.1", "localhost", "::1"):
            return f"error: a demo is served on 127.0.0.1 only, not {host}"
        return None
    if not secret:
        return (
            "error: ROADGUARD_SECRET_KEY is not set. Set it to a long random string, the same "
            "on every worker (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            "), or pass --demo for a demo on this machine"
        )
    return None


def _migrate(args: argparse.Namespace) -> int:
    from central.centre import Centre

    centre = Centre.open(_settings(args))
    print(f"schema at head on {centre.db.engine.url.render_as_string(hide_password=True)}")
    centre.close()
    return 0


def _read_password(args: argparse.Namespace, prompt: str) -> str | None:
    """From `--password-env`, or typed twice; None when the two differ (said already)."""
    if args.password_env:
        return os.environ.get(args.password_env, "")
    password = getpass.getpass(f"{prompt} for {args.username}: ")
    if password != getpass.getpass("again: "):
        print("the passwords differ")
        return None
    return password


def _user_add(args: argparse.Namespace) -> int:
    from central.users import add_user

    password = _read_password(args, "password")
    if password is None:
        return 2

    def change(session, now) -> str:
        add_user(
            session,
            args.username,
            password,
            args.role,
            now,
            args.name,
            township=args.township,
            squad=args.squad,
        )
        return f"added {args.role} {args.username}"

    return _account_change(args, change)


def _user_token(args: argparse.Namespace) -> int:
    from central.accounts import find_account
    from central.api_keys import mint_api_key

    def change(session, now) -> str:
        key = mint_api_key(session, find_account(session, args.username), now, args.label)
        return f"{key}\n(shown once; send it as api_key=... or Authorization: Bearer ...)"

    return _account_change(args, change)


# Who the audit names for what is done from the command line: the machine's user.
def _cli_actor() -> str:
    return f"cli:{getpass.getuser()}"[:64]


def _account_change(args: argparse.Namespace, change) -> int:
    """Run `change(session, now)` on the centre's database; a UserError is one line."""
    from central.centre import Centre
    from central.users import UserError

    centre = Centre.open(_settings(args))
    try:
        with centre.db.session() as session:
            said = change(session, centre.clock.now())
    except UserError as exc:
        print(f"error: {exc}")
        return 2
    finally:
        centre.close()
    print(said)
    return 0


def _user_switch(args: argparse.Namespace) -> int:
    from central.accounts import set_active

    def change(session, now) -> str:
        set_active(session, args.username, args.active, _cli_actor(), now)
        return f"{args.username} {'activated' if args.active else 'deactivated'}"

    return _account_change(args, change)


def _user_password(args: argparse.Namespace) -> int:
    from central.accounts import set_password

    new = _read_password(args, "new password")
    if new is None:
        return 2

    def change(session, now) -> str:
        ended = set_password(session, args.username, new, _cli_actor(), now)
        return f"password of {args.username} set; {ended} session(s) ended"

    return _account_change(args, change)


def _user_revoke(args: argparse.Namespace) -> int:
    from central.accounts import revoke_keys

    def change(session, now) -> str:
        labels = revoke_keys(session, args.username, _cli_actor(), now, args.label)
        return f"revoked {len(labels)} key(s) of {args.username}" + (
            f": {', '.join(labels)}" if labels else ""
        )

    return _account_change(args, change)


def _categories(args: argparse.Namespace) -> int:
    from central.config import CentralSettings

    print(CentralSettings().reports.load_categories().to_yaml(), end="")
    return 0
