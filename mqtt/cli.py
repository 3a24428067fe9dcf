"""`roadguard broker config|run`: a Mosquitto for the contract. `roadguard mqtt schemas`:
regenerate the JSON Schema files from the payload models."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    broker = sub.add_parser("broker", help="the Mosquitto broker between nodes and the centre")
    broker_sub = broker.add_subparsers(dest="broker_command", required=True)
    config = broker_sub.add_parser(
        "config", help="write mosquitto.conf, hashed passwords and the per-node ACL"
    )
    config.add_argument("--out", required=True, type=Path, help="folder to write into")
    config.add_argument(
        "--node",
        action="append",
        default=[],
        metavar="ID[=PASSWORD]",
        help="a node account (username = node id); repeat; random password if none given",
    )
    config.add_argument("--central-user", default="central", help="the centre's account")
    config.add_argument("--central-password", default=None, help="default: random")
    config.add_argument(
        "--central-workers",
        type=int,
        default=1,
        help="central workers that will consume: each gets an account of its own "
        "(central, central-2, ...), since the broker makes the account the client id",
    )
    config.add_argument("--port", type=int, default=1883)
    config.add_argument("--bind", default="0.0.0.0", help="listener address")
    config.add_argument("--persistence-dir", type=Path, default=None, help="default OUT/data")
    config.add_argument("--tls-cert", type=Path, default=None, help="server certificate (PEM)")
    config.add_argument("--tls-key", type=Path, default=None, help="server key (PEM)")
    config.add_argument("--tls-ca", type=Path, default=None, help="CA for client certificates")
    config.add_argument(
        "--credentials",
        type=Path,
        default=None,
        help="also write the clear passwords to this JSON file (mode 0600) for provisioning",
    )
    config.set_defaults(func=_config)

    run = broker_sub.add_parser("run", help="run a local Mosquitto on loopback (demo, tests)")
    run.add_argument("--port", type=int, default=1883)
    run.add_argument("--workdir", type=Path, default=None, help="default: a temp folder")
    run.set_defaults(func=_run)

    mqtt = sub.add_parser("mqtt", help="the MQTT contract")
    mqtt_sub = mqtt.add_subparsers(dest="mqtt_command", required=True)
    schemas = mqtt_sub.add_parser("schemas", help="write the JSON Schema files from the models")
    schemas.add_argument("--out", type=Path, default=None, help="default: mqtt/schemas")
    schemas.set_defaults(func=_schemas)


def _config(args: argparse.Namespace) -> int:
    from mqtt.broker import write_broker_config

    if (args.tls_cert is None) != (args.tls_key is None):
        print("give both --tls-cert and --tls-key, or neither")
        return 2
    nodes: dict[str, str | None] = {}
    for item in args.node:
        node, _, password = item.partition("=")
        nodes[node] = password or None
    try:
        written = write_broker_config(
            args.out,
            nodes,
            central_user=args.central_user,
            central_password=args.central_password,
            central_workers=args.central_workers,
            port=args.port,
            bind_address=args.bind,
            persistence_dir=args.persistence_dir,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            tls_ca=args.tls_ca,
        )
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    print(f"wrote {written.conf} (+ passwd, acl); start it with: mosquitto -c {written.conf}")
    if args.credentials is not None:
        args.credentials.touch(mode=0o600)
        args.credentials.write_text(json.dumps(written.passwords, indent=2) + "\n")
        print(f"clear passwords in {args.credentials} (hand them out, then delete the file)")
    else:
        for user in sorted(written.passwords):
            print(f"{user}: password set (use --credentials FILE to keep the clear passwords)")
    return 0


def _run(args: argparse.Namespace) -> int:
    import signal

    from mqtt.broker import Broker, BrokerUnavailable

    try:
        broker = Broker(args.workdir, port=args.port).start()
    except BrokerUnavailable as exc:
        print(f"error: {exc}")
        return 1
    print(f"mosquitto on {broker.url} (config {broker.conf_path}); Ctrl-C stops it")
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
    return 0


def _schemas(args: argparse.Namespace) -> int:
    from mqtt.schema_files import SCHEMA_DIR, write_schemas

    for path in write_schemas(args.out or SCHEMA_DIR):
        print(path)
    return 0
