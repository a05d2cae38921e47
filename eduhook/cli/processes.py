"""Long-running commands: the receiver, the worker, beat, and ``dev`` that runs them all (Flower: flower.py).

``serve``, ``worker``, ``beat`` and ``dev`` check the whole configuration first
(``eduhook.cli.checks``) and exit with status 2, printing each problem, when it is wrong.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eduhook.embedded_redis import _die_with_parent
from eduhook.runtime import resolve_redis

if TYPE_CHECKING:
    from eduhook.cli.main import Context
    from eduhook.settings import Settings


@click.command()
@click.option("--host", default=None, help="Interface to bind (EDUHOOK_HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (EDUHOOK_PORT, default 8000).")
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="Log each request (webhook tokens are redacted).",
)
@click.pass_obj
def serve(obj: Context, host: str | None, port: int | None, access_log: bool) -> None:
    """Run the webhook receiver (Starlette on uvicorn)."""
    import uvicorn

    from eduhook.cli.checks import require_valid_configuration
    from receiver.app import create_app
    from receiver.connections import http_protocol
    from receiver.logging import install_token_redaction

    require_valid_configuration("serve", needs_webhook_tokens=True)
    settings = obj.settings
    redis = resolve_redis(settings)
    app = create_app(settings, redis_url=redis.url)
    install_token_redaction([token.decode() for token in settings.token_values()])
    try:
        uvicorn.run(
            app,
            host=host or settings.host,
            port=port or settings.port,
            log_level=settings.log_level,
            access_log=access_log,
            log_config=None,  # eduhook's logging (eduhook/logs.py) formats uvicorn's lines too
            # Slow clients: idle and header deadlines here, the body's in the app (receiver/body.py).
            http=http_protocol(keep_alive=settings.keep_alive_timeout, header=settings.header_timeout),
            server_header=False,
            timeout_graceful_shutdown=10,
        )
    finally:
        redis.stop()


@click.command()
@click.option(
    "--concurrency",
    "-c",
    type=int,
    default=None,
    help="Tasks in flight (EDUHOOK_WORKER_CONCURRENCY, default 32); run one worker process per core.",
)
@click.option(
    "--pool",
    type=click.Choice(["threads", "prefork", "solo"]),
    default="threads",
    show_default=True,
    help="threads suits partner I/O; prefork isolates processes.",
)
@click.option(
    "--beat/--no-beat",
    "with_beat",
    default=False,
    help="Also run the scheduler inside this worker (one per deployment).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus metrics of all this worker's processes on this port, at /metrics"
    " (EDUHOOK_WORKER_METRICS_PORT; default: none; 0: a free port, logged). Binds"
    " EDUHOOK_METRICS_HOST (127.0.0.1); EDUHOOK_METRICS_TOKEN makes it ask for a bearer token.",
)
@click.pass_obj
def worker(
    obj: Context, concurrency: int | None, pool: str, with_beat: bool, metrics_port: int | None
) -> None:
    """Run a Celery worker that processes queued events."""
    from eduhook.cli.checks import require_valid_configuration

    require_valid_configuration("worker")
    settings = obj.settings
    port = metrics_port if metrics_port is not None else settings.worker_metrics_port
    metrics_path = None
    if port is not None:
        # Before the Celery app and any metric exist: they, and the forked children, use the files.
        from workers import metrics

        metrics_path = metrics.prepare(settings)
    from workers.app import create_celery, worker_queues

    redis = resolve_redis(settings)
    app = create_celery(settings, redis_url=redis.url)
    server = None
    if metrics_path is not None and port is not None:
        try:
            server = metrics.serve(settings, redis.url, metrics_path, port)
        except OSError as exc:
            metrics.close(metrics_path)
            redis.stop()
            raise click.UsageError(f"--metrics-port {port}: cannot listen ({exc.strerror})") from exc
    argv = [
        *_quiet(settings),
        "worker",
        f"--queues={worker_queues()}",
        f"--loglevel={settings.log_level.upper()}",
        f"--pool={pool}",
        f"--concurrency={concurrency or settings.worker_concurrency}",
        "--without-gossip",
        "--without-mingle",
    ]
    if with_beat:
        argv += ["--beat", f"--schedule={settings.data_dir / 'celerybeat-schedule'}"]
    try:
        app.worker_main(argv)
    finally:
        if server is not None and metrics_path is not None:
            server.stop()
            metrics.close(metrics_path)
        redis.stop()


@click.command()
@click.pass_obj
def beat(obj: Context) -> None:
    """Run the scheduler: due retries, lost messages, dead workers' events. Run exactly one."""
    from eduhook.cli.checks import require_valid_configuration
    from workers.app import create_celery

    require_valid_configuration("beat")
    settings = obj.settings
    redis = resolve_redis(settings)
    app = create_celery(settings, redis_url=redis.url)
    try:
        app.start(
            [
                *_quiet(settings),
                "beat",
                f"--loglevel={settings.log_level.upper()}",
                f"--schedule={settings.data_dir / 'celerybeat-schedule'}",
            ]
        )
    finally:
        redis.stop()


def _quiet(settings: Settings) -> list[str]:
    """Celery prints its start-up banner outside logging: with JSON logs it would be lines no
    collector can parse, so it is left out (the same facts are logged)."""
    return ["--quiet"] if settings.log_format == "json" else []


def _dev_token(data_dir: Path) -> str:
    """A webhook token kept in the data dir, so the URL given to Eduframe survives restarts."""
    path = data_dir / "dev-webhook-token"
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(24)
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


@click.command()
@click.option("--port", type=int, default=None, help="Receiver port (default EDUHOOK_PORT or 8000).")
@click.option(
    "--concurrency",
    type=int,
    default=None,
    help="Worker concurrency (default EDUHOOK_WORKER_CONCURRENCY, 32).",
)
@click.pass_obj
def dev(obj: Context, port: int | None, concurrency: int | None) -> None:
    """Everything in one terminal: Redis (embedded if none set), ledger upgrade, receiver, worker.

    Ctrl-C stops all of it. Without EDUHOOK_WEBHOOK_TOKENS a token is generated once and kept
    in the data dir; the webhook URL to give Eduframe is printed at start.
    """
    from eduhook.cli.checks import require_valid_configuration
    from eduhook.ledger import create_engine_for, upgrade

    require_valid_configuration("dev")  # before Redis, the ledger or a child starts
    settings = obj.settings
    redis = resolve_redis(settings)
    engine = create_engine_for(settings.effective_database_url)
    upgrade(engine)
    engine.dispose()
    env = {**os.environ, "EDUHOOK_REDIS_URL": redis.url, "EDUHOOK_DATA_DIR": str(settings.data_dir.resolve())}
    token_note = ""
    if not settings.webhook_tokens:
        token = _dev_token(settings.data_dir)
        env["EDUHOOK_WEBHOOK_TOKENS"] = token
        token_note = f"?token={token}"
    port = port or settings.port
    base = [sys.executable, "-m", "eduhook.cli"]
    children = {
        "receiver": _spawn([*base, "serve", "--port", str(port)], env),
        "worker": _spawn(
            [*base, "worker", "--beat", *(["--concurrency", str(concurrency)] if concurrency else [])], env
        ),
    }
    click.echo(
        f"eduhook dev: receiver on http://{settings.host}:{port}, worker running, Redis at {redis.url}\n"
        f"  Eduframe webhook URL: http://{settings.host}:{port}/webhooks/eduframe{token_note}\n"
        f"  ledger: {settings.effective_database_url}\n  Ctrl-C stops everything.",
        err=True,
    )
    stopping = False

    def request_stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    code = 0
    try:
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    click.echo(f"eduhook dev: {name} exited with {child.returncode}; stopping", err=True)
                    stopping, code = True, 1
                    break
            else:
                time.sleep(0.2)
    finally:
        _stop_all(list(children.values()))
        redis.stop()
    raise SystemExit(code)


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Own process group: Ctrl-C reaches only us, and we stop the children in order.
    return subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=_die_with_parent)


def _stop_all(children: list[subprocess.Popen[bytes]], timeout: float = 15.0) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
