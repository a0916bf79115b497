"""The `tasker-analytics` command: generate a workload, build the models, serve the API."""

from __future__ import annotations

import argparse
import socket
import sys
from datetime import datetime
from pathlib import Path

from tasker_analytics.config.settings import CONFIGURATION_ERRORS, Settings, default_source_duckdb


def _fail(message: str, code: int = 2) -> int:
    print(f"tasker-analytics: {message}", file=sys.stderr)
    return code


def _check_as_of(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S.%f")
    except ValueError:
        raise argparse.ArgumentTypeError(f"--as-of must be an ISO timestamp, got {value!r}") from None


def _build(args: argparse.Namespace, settings: Settings) -> int:
    from tasker_analytics.build.project import BuildError
    from tasker_analytics.build.runner import build

    try:
        result = build(
            settings,
            source_duckdb=args.source_duckdb,
            source_parquet=getattr(args, "source_parquet", None),
            as_of=_check_as_of(args.as_of),
            full_refresh=getattr(args, "full_refresh", False),
            allow_empty=getattr(args, "allow_empty", False),
        )
    except (BuildError, argparse.ArgumentTypeError) as error:
        return _fail(str(error), 1)
    mode = "incrementally" if result.incremental else "in full"
    waited = f" (after waiting {result.waited:.1f}s for another build)" if result.waited >= 0.05 else ""
    print(f"built {result.target} {mode} in {result.seconds:.1f}s{waited}", file=sys.stderr)
    return 0


# A worker that dies (a crash, the kernel's OOM killer) is replaced after this long.
RESPAWN_SECONDS = 1.0


def port_in_use(host: str, port: int) -> OSError | None:
    """The error of binding (host, port) as an exclusive listener, or None when it is free.
    Another server on the port holds it with SO_REUSEPORT, which lets a second one bind
    beside it and split the requests: this probe, without that option, is refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error
    return None


def _refuse_taken_port(args: argparse.Namespace, settings: Settings) -> int:
    """Exit code 2 with a message when the port is taken (unless --share-port), else 0."""
    host, port = args.host or settings.host, args.port or settings.port
    refused = None if args.share_port else port_in_use(host, port)
    if refused is None:
        return 0
    return _fail(
        f"port {port} on {host} is already in use ({refused.strerror}): stop the server holding it, "
        "or choose another with --port or TASKER_ANALYTICS_PORT (--share-port to serve beside it)"
    )


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from granian import Granian
    from granian.constants import Interfaces

    host, port = args.host or settings.host, args.port or settings.port
    refused = _refuse_taken_port(args, settings)
    if refused:
        return refused
    root = f"http://{host}:{port}"
    base = f"{root}/tasker/analytics"
    if settings.enabled:
        print(
            f"serving on {base}/performance and {base}/bottlenecks; dashboard {base}/dashboard, "
            f"Prometheus {base}/metrics, Grafana {base}/grafana; health probes {root}/health/live and "
            f"{root}/health/ready (OpenAPI: {root}/schema)",
            flush=True,
        )
    else:
        print(
            f"serving the health probes only, {root}/health/live and {root}/health/ready: the analytics "
            f"endpoints, dashboard and metrics under {base}/ are off (TASKER_ANALYTICS_ENABLED=false) and "
            f"answer 404; the OpenAPI schema at {root}/schema still describes them",
            flush=True,
        )
    Granian(
        "tasker_analytics.api.app:create_app",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=args.workers or settings.workers,
        respawn_failed_workers=True,
        respawn_interval=RESPAWN_SECONDS,
    ).serve()
    return 0


def _say(message: str) -> None:
    print(f"tasker-analytics: {message}", file=sys.stderr, flush=True)


def _generates(args: argparse.Namespace, source: Path) -> bool:
    """Whether `up` generates the workload of --tasks and --seed into `source`: when there
    is none, when asked to (--regenerate), or when the source records another one. A source
    without a record (written by hand, by Tasker, by an older version) is used as it is.
    Says which, and why."""
    import duckdb

    from tasker_analytics.generate.writers import generated_with

    asked = f"{args.tasks} tasks, seed {args.seed}"
    if not source.exists():
        _say(f"no workload at {source} yet: generating one ({asked})")
        return True
    if args.regenerate:
        _say(f"--regenerate: generating a new workload ({asked}) in place of {source}")
        return True
    again = f"--tasks {args.tasks} --seed {args.seed}"
    where = f" --source-duckdb {source}" if args.source_duckdb else ""
    try:
        record = generated_with(str(source))
    except duckdb.Error as error:
        _say(f"using {source} as it is: cannot read how it was generated ({' '.join(str(error).split())})")
        return False
    if record is None:
        _say(
            f"using {source} as it is: it has no record of the --tasks and --seed it was generated with "
            f"(written by hand, by Tasker or by an older version), so {again} do not apply to it. "
            f"To replace it with a generated workload: tasker-analytics up --regenerate {again}{where}"
        )
        return False
    held = f"{record['tasks']} tasks, seed {record['seed']}"
    if (record["tasks"], record["seed"]) == (args.tasks, args.seed):
        as_of = record["as_of"].isoformat(sep=" ", timespec="seconds")
        _say(f"reusing the workload in {source} ({held}, generated up to {as_of} UTC; --regenerate for a fresh one)")
        return False
    _say(f"{source} holds another workload ({held}): generating {asked} in its place")
    return True


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from tasker_analytics.generate.workload import generate_workload
    from tasker_analytics.generate.writers import parse_as_of, write_duckdb

    refused = _refuse_taken_port(args, settings)  # before minutes of generating and building
    if refused:
        return refused

    source = Path(args.source_duckdb) if args.source_duckdb else default_source_duckdb()
    args.full_refresh = False
    if _generates(args, source):
        generated = {"tasks": args.tasks, "seed": args.seed, "as_of": parse_as_of(None), "history_hours": 192.0}
        write_duckdb(generate_workload(**generated, progress=True), str(source), progress=True, generated=generated)
        # A served build of another workload is not continued: the build starts from scratch.
        args.full_refresh = True
    args.source_duckdb = str(source)
    args.as_of = None
    code = _build(args, settings)
    return code if code else _serve(args, settings)


def _hash_token(token: str | None) -> int:
    from tasker_analytics.auth.tokens import MIN_SERVICE_TOKEN_LENGTH, hash_service_token

    if token is None:
        if sys.stdin.isatty():
            import getpass

            token = getpass.getpass("service token: ")
        else:
            token = sys.stdin.readline().rstrip("\r\n")
    if len(token) < MIN_SERVICE_TOKEN_LENGTH:
        return _fail(
            f"a service token must be at least {MIN_SERVICE_TOKEN_LENGTH} characters (got {len(token)}); "
            "use a random one, e.g. `openssl rand -hex 32`"
        )
    print(hash_service_token(token))
    return 0


def parser() -> argparse.ArgumentParser:
    from tasker_analytics.generate import options as generate_options

    root = argparse.ArgumentParser(prog="tasker-analytics", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    generate_parser = commands.add_parser("generate", help="write a synthetic Tasker workload")
    generate_options.add_arguments(generate_parser)

    build_parser = commands.add_parser(
        "build", help="run dbt build (TASKER_ANALYTICS_WAREHOUSE picks the target: duckdb, postgres or spark)"
    )
    build_parser.add_argument("--source-duckdb", help="DuckDB file holding the Tasker tables")
    build_parser.add_argument(
        "--source-parquet", help="folder of Parquet Tasker tables (TASKER_ANALYTICS_WAREHOUSE=spark)"
    )
    build_parser.add_argument("--as-of", help="analysis reference time (naive UTC ISO timestamp); default: now")
    build_parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every model from the source instead of continuing the served build",
    )
    build_parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="publish a build with no settled task in its statistics window even when the served build has many",
    )

    serve_parser = commands.add_parser("serve", help="serve the HTTP API")
    up_parser = commands.add_parser(
        "up", help="generate (when missing or generated with another --tasks/--seed), build and serve on DuckDB"
    )
    for sub in (serve_parser, up_parser):
        sub.add_argument("--host", help="default TASKER_ANALYTICS_HOST or 127.0.0.1")
        sub.add_argument("--port", type=int, help="default TASKER_ANALYTICS_PORT or 8000")
        sub.add_argument("--workers", type=int, help="default TASKER_ANALYTICS_WORKERS or 1")
        sub.add_argument(
            "--share-port",
            action="store_true",
            help="start even when another server listens on the port (the two then split the requests)",
        )
    up_parser.add_argument(
        "--tasks",
        type=int,
        default=20000,
        metavar="N",
        help="tasks of the generated workload (default 20000); a source generated with another number "
        "is generated again, a source without a record of it is used as it is",
    )
    up_parser.add_argument(
        "--seed",
        type=int,
        default=42,
        metavar="S",
        help="random seed of the generated workload (default 42); a source generated with another seed "
        "is generated again",
    )
    up_parser.add_argument(
        "--source-duckdb", help="DuckDB file for the Tasker tables (default TASKER_SOURCE_DUCKDB_PATH)"
    )
    up_parser.add_argument(
        "--regenerate", action="store_true", help="generate a new workload even if the source holds the one asked for"
    )
    from tasker_analytics.cli import check_options

    check_parser = commands.add_parser(
        "check",
        help="monitoring check: exit 0 OK, 1 a threshold is crossed, 2 the data cannot be read, 3 too little data",
    )
    check_options.add_arguments(check_parser)

    hash_parser = commands.add_parser(
        "hash-token", help="print the SHA-256 of a service token for TASKER_ANALYTICS_SERVICE_TOKENS"
    )
    hash_parser.add_argument(
        "token",
        nargs="?",
        help="the token (at least 32 characters); read from standard input when omitted, "
        "which keeps it out of the shell history",
    )
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "generate":
        from tasker_analytics.generate.writers import run

        return run(args)
    if args.command == "check":
        from tasker_analytics.cli import check

        return check.run(args)
    if args.command == "hash-token":
        return _hash_token(args.token)
    try:
        settings = Settings.from_env()
    except CONFIGURATION_ERRORS as error:
        return _fail(str(error))
    handlers = {"build": _build, "serve": _serve, "up": _up}
    return handlers[args.command](args, settings)


if __name__ == "__main__":
    sys.exit(main())
