"""``python -m bench.stalled``: normal webhooks while 500 stalled connections are held open, against none.

    .venv/bin/python -m bench.stalled                  # 3 rounds, ~4 min
    .venv/bin/python -m bench.stalled --quick          # 1 round of 3 s runs, prints only

One ``eduhook serve`` (SQLite ledger, embedded Redis, the shipped deadlines) is measured in
rounds, each with a baseline phase and a stalled phase (the order alternates). Every phase reads
the receiver's CPU with no webhooks flowing, then runs wrk saturated, then the open-loop
generator at a fixed rate. In the stalled phase, ``python -m bench.stalled_clients`` holds
``--stalled`` connections open in its own process, half mid-headers and half mid-body, sending a
byte a second and reconnecting whenever the receiver closes one. They are first opened at random
over ``--ramp`` seconds, so that the receiver's deadlines let go of a steady trickle of them, as
of a steady attacker's; ``--ramp 1`` measures them all let go at once. The receiver must stay up,
keep its p99 under 50 ms, record nothing from a stalled client, and log no traceback. Every
process is started here and stopped by PID under a hard time limit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench import phases
from bench.harness import hard_limit, wait_for_quiet
from bench.payloads import body_template
from bench.pipeline_snapshot import code_state
from bench.procs import REPO_ROOT, BenchError, Child, Children, base_env, cpu_seconds, machine_info
from bench.results import add_output_options, publish
from bench.stalled_clients import Tally
from bench.stalled_report import Hold, Phase, ReceiverLog, StalledReport, render
from bench.targets import RedisTarget, Server, redis_target, start_receiver
from bench.wrkrun import INSTALL_HINT

MAX_STALLED = 2000  # the machine's other users share its file descriptors and ports
IDLE_WINDOW = 3.0  # seconds over which the receiver's CPU is read with no webhooks flowing


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stalled", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--stalled", type=int, default=500, help="connections held open (default 500)")
    parser.add_argument("--every", type=float, default=1.0, help="s between a stalled client's bytes (1)")
    parser.add_argument("--ramp", type=float, default=10.0, help="s over which they are opened (10)")
    parser.add_argument("--rounds", type=int, default=3, help="baseline + stalled rounds (default 3)")
    parser.add_argument("--duration", type=float, default=10.0, help="s of each wrk and open-loop run (10)")
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop req/s (default 500)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--timeout", type=float, default=900.0, help="hard limit, waits included, s (900)")
    parser.add_argument(
        "--quiet-wait", type=float, default=60.0, help="wait up to this long for a quiet machine, s (60),"
        " at the start and before each phase",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s runs, 200 stalled; prints only")
    add_output_options(parser, REPO_ROOT / "bench" / "RESULTS.md", snapshot=False)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.stalled, args.ramp, args.no_write = 1, 3.0, 200, 3.0, True
    if not 2 <= args.stalled <= MAX_STALLED:
        parser.error(f"--stalled must be between 2 and {MAX_STALLED}")
    if args.rounds < 1 or min(args.duration, args.every, args.ramp) <= 0:
        parser.error("--rounds, --duration, --every and --ramp must be positive")
    return args


def round_order(number: int) -> list[str]:
    """Baseline first in odd rounds, stalled first in even ones, so neither always runs on a warmer server."""
    return ["baseline", "stalled"] if number % 2 == 0 else ["stalled", "baseline"]


class StalledRun:
    """The phases of one run against one receiver; ``children`` stops every process it starts."""

    def __init__(self, args: argparse.Namespace, work: Path, redis: RedisTarget, children: Children) -> None:
        self.args, self.work, self.redis, self.children = args, work, redis, children
        self.template = body_template(uuid.uuid4().hex[:10])
        self.seq = 0
        self.server: Server | None = None
        self.warmup: phases.Saturated | None = None
        self.baseline = Phase("baseline: no stalled connections", phases.FixedRate(args.rate))
        self.stalled = Phase(f"{args.stalled} stalled connections", phases.FixedRate(args.rate))

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq * 10**11

    def start(self) -> Server:
        self.server = start_receiver(
            self.children, self.work, "sqlite", f"sqlite:///{self.work / 'ledger.db'}", self.redis.url
        )
        return self.server

    def run(self) -> None:
        server = self.start()
        log("warm-up: wrk 2 s")
        self.warmup = phases.saturate(server, self.redis, self.template, self.work, first_seq=self.next_seq(),
                                      connections=self.args.connections, threads=1, duration=2.0)  # fmt: skip
        self.redis.clear()
        for number in range(self.args.rounds):
            for name in round_order(number):
                # Before each phase (and before the stalled clients start): a phase lasts long enough
                # for the machine's other users to come and go.
                load = wait_for_quiet(min(self.args.quiet_wait, 60.0), tag="stalled")
                log(f"round {number + 1}/{self.args.rounds}: {name}")
                if name == "baseline":
                    self.baseline.loads_before.append(load)
                    self.measure(self.baseline)
                else:
                    self.stalled.loads_before.append(load)
                    self.measure_stalled(number)

    def measure(self, phase: Phase, holder: Child | None = None) -> tuple[float, float]:
        """The receiver's CPU with no webhooks, then wrk, then the open loop; returns the wall-clock
        window they ran in."""
        assert self.server is not None
        a, start = self.args, time.time()
        phase.idle_cpu.append(cpu_share(self.server.child.pid, IDLE_WINDOW))
        saturated = phases.saturate(
            self.server, self.redis, self.template, self.work, first_seq=self.next_seq(),
            connections=a.connections, threads=1, duration=a.duration,
        )  # fmt: skip
        phase.saturated.rounds.append(saturated)
        self.redis.clear()
        extra = {"stalled clients": holder.pid} if holder is not None else None
        rate = phases.fixed_rate(
            self.server, self.redis, self.template, rate=a.rate, duration=a.duration,
            first_seq=self.next_seq(), extra_pids=extra,
        )  # fmt: skip
        phase.rate.runs.append(rate)
        self.redis.clear()
        if not self.server.child.alive():
            raise BenchError(f"the receiver died during {phase.name}:\n{self.server.child.log_tail()}")
        phase.rss_mib.append(rss_mib(self.server.child.pid))
        return start, time.time()

    def measure_stalled(self, number: int) -> None:
        assert self.server is not None
        stats = self.work / f"stalled-{number}.json"
        command = [sys.executable, "-m", "bench.stalled_clients", "--port", str(self.server.port),
                   "--count", str(self.args.stalled), "--every", f"{self.args.every:g}",
                   "--ramp", f"{self.args.ramp:g}",
                   "--stats", str(stats), "--duration", f"{self.args.timeout:.0f}"]  # fmt: skip
        output = self.work / f"stalled-{number}.log"
        holder = self.children.spawn("stalled clients", command, base_env(), output)
        try:
            wait_held(holder, stats, self.args.stalled, timeout=self.args.ramp + 30)
            window = self.measure(self.stalled, holder)
        finally:
            holder.stop()
        self.stalled.holds.append(Hold(Tally.read(stats), window))


def wait_held(holder: Child, stats: Path, count: int, timeout: float) -> None:
    """Until the stalled clients hold ``count`` connections; fail with their log if they never do."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not holder.alive():
            raise BenchError(f"the stalled clients exited:\n{holder.log_tail()}")
        if stats.exists() and Tally.read(stats).open_now >= count:
            return
        time.sleep(0.1)
    raise BenchError(f"the stalled clients did not hold {count} connections within {timeout:.0f} s")


def cpu_share(pid: int, seconds: float) -> float:
    """The share of one core that ``pid`` uses over the next ``seconds``."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / seconds


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def log(message: str) -> None:
    print(f"[stalled] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    load = wait_for_quiet(args.quiet_wait, tag="stalled")
    work = Path(tempfile.mkdtemp(prefix="eduhook-stalled-"))
    children = Children()
    machine = machine_info()
    version = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    machine["wrk"] = (version.stdout or version.stderr).split("[")[0].replace("wrk ", "").strip()
    run: StalledRun | None = None
    failure = None
    try:
        with hard_limit(args.timeout), redis_target(work, None) as redis:
            run = StalledRun(args, work, redis, children)
            run.run()
    except BenchError as exc:
        failure = str(exc)
    finally:
        server = run.server if run is not None else None
        alive = server is not None and server.child.alive()
        rows = server.ledger_rows() if server is not None else 0
        receiver_log = ReceiverLog.read(server.child.log) if server is not None else ReceiverLog()
        children.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    if run is None:
        print(f"benchmark failed: {failure}", file=sys.stderr)
        return 1
    report = StalledReport(
        command="python -m bench.stalled" + (" " + shlex.join(argv) if argv else ""),
        code=code_state(), when=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), machine=machine,
        args=vars(args), load_before=load, baseline=run.baseline, stalled=run.stalled, warmup=run.warmup,
        receiver_alive=alive, ledger_rows=rows, receiver_log=receiver_log, failure=failure,
    )  # fmt: skip
    publish(render(report), args.results, write=not args.no_write and failure is None, tag="stalled",
            title="Stalled connections")  # fmt: skip
    return 1 if failure or not report.targets_met else 0


if __name__ == "__main__":
    raise SystemExit(main())
