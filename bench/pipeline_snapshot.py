"""Which code a pipeline run measures: a clean copy of a commit, or the working tree as it is.

The repository is shared by people editing it while a benchmark runs, and every run starts fresh
``eduhook`` processes, so the working tree can change between (or during) runs. By default the
benchmark re-runs itself from ``git archive HEAD`` unpacked in a temporary directory, with
``PYTHONPATH`` pointing there, so every process imports exactly that commit.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.procs import REPO_ROOT

SNAPSHOT_ENV = "EDUHOOK_BENCH_SNAPSHOT"  # set in the re-run process: "<commit>"


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    return done.stdout.rstrip()  # not strip(): porcelain lines begin with a space


def code_state() -> str:
    """``commit abc1234 (clean snapshot)``, or the commit plus the files edited in the working tree."""
    if commit := os.environ.get(SNAPSHOT_ENV):
        return f"commit {commit} (a clean copy from `git archive`, not the working tree)"
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    edited = [line[3:] for line in _git("status", "--porcelain", "--untracked-files=no").splitlines()]
    edited = [path for path in edited if path != "bench/RESULTS.md"]
    if not edited:
        return f"commit {commit} (working tree, no edits)"
    return f"working tree at commit {commit} with uncommitted edits to {', '.join(edited)}"


def rerun_from_snapshot(argv: list[str], timeout: float, module: str = "bench.pipeline") -> int:
    """Unpack HEAD into a temporary directory and run ``module`` from there (by PID)."""
    commit = _git("rev-parse", "--short", "HEAD")
    if not commit:
        raise SystemExit("not a git checkout: use --no-snapshot")
    directory = Path(tempfile.mkdtemp(prefix=f"eduhook-snapshot-{commit}-"))
    try:
        archive = subprocess.run(["git", "archive", "HEAD"], cwd=REPO_ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(directory)], input=archive.stdout, check=True)
        env = {**os.environ, "PYTHONPATH": str(directory), SNAPSHOT_ENV: commit}
        print(f"[{module}] measuring commit {commit} from a clean copy in {directory}", file=sys.stderr)
        child = subprocess.Popen([sys.executable, "-m", module, *argv], cwd=directory, env=env)
        try:
            return child.wait(timeout)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            child.send_signal(signal.SIGINT)  # its own cleanup stops what it started
            try:
                child.wait(60)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            return 1
    finally:
        shutil.rmtree(directory, ignore_errors=True)
