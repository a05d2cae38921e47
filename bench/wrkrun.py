"""Saturated load with ``wrk``: a Lua script that makes every body unique, and its output parsed."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.payloads import PATH, BodyTemplate, request_headers
from bench.procs import BenchError

INSTALL_HINT = "wrk is not installed; install it with: apt-get update && apt-get install -y wrk"

# Counts answers by status in each wrk thread; done() prints them for us to parse. Every thread
# has its own Lua state, so the sequence number is (first + thread * stride + counter).
_LUA = """
local parts = {%(parts)s}
local headers = {%(headers)s}
local first = %(first)d
local stride = %(stride)d
local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  s202 = 0
  s200 = 0
  other = 0
end

function request()
  counter = counter + 1
  local seq = string.format("%%.0f", first + tid * stride + counter)
  return wrk.format("POST", "%(path)s", headers, table.concat(parts, seq))
end

function response(status, headers, body)
  if status == 202 then s202 = s202 + 1
  elseif status == 200 then s200 = s200 + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format("BENCH_STATUS %%d %%d %%d\\n", t:get("s202"), t:get("s200"), t:get("other")))
  end
  io.write(string.format("BENCH_LATENCY %%d %%d %%d\\n",
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""

STRIDE = 10**9


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    requests_per_sec: float
    status_202: int
    status_200: int
    status_other: int
    socket_errors: int
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    output: str

    @property
    def non_2xx(self) -> int:
        return self.status_other

    @property
    def ok(self) -> int:
        return self.status_202 + self.status_200


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise BenchError(INSTALL_HINT)
    return path


def _lua_string(raw: bytes) -> str:
    text = raw.decode()
    if "]==]" in text:
        raise ValueError("body template contains the Lua long-string terminator")
    return f"[==[{text}]==]"


def write_script(directory: Path, template: BodyTemplate, first_seq: int) -> Path:
    headers = ", ".join(f'["{k}"] = "{v}"' for k, v in request_headers().items())
    script = _LUA % {
        "parts": ", ".join(_lua_string(p) for p in template.parts),
        "headers": headers,
        "first": first_seq,
        "stride": STRIDE,
        "path": PATH,
    }
    path = directory / f"wrk-{first_seq}.lua"
    path.write_text(script)
    return path


def _parse(output: str) -> WrkResult:
    def number(pattern: str) -> float:
        match = re.search(pattern, output)
        if match is None:
            raise BenchError(f"unexpected wrk output (no {pattern!r}):\n{output}")
        return float(match.group(1))

    statuses = [tuple(int(x) for x in m) for m in re.findall(r"BENCH_STATUS (\d+) (\d+) (\d+)", output)]
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    latency = re.search(r"BENCH_LATENCY (\d+) (\d+) (\d+)", output)
    p50, p99, top = (int(x) / 1000 for x in latency.groups()) if latency else (0.0, 0.0, 0.0)
    return WrkResult(
        requests=int(number(r"(\d+) requests in")),
        seconds=number(r"requests in ([\d.]+)s"),
        requests_per_sec=number(r"Requests/sec:\s+([\d.]+)"),
        status_202=sum(s[0] for s in statuses),
        status_200=sum(s[1] for s in statuses),
        status_other=sum(s[2] for s in statuses),
        socket_errors=sum(int(x) for x in errors.groups()) if errors else 0,
        latency_p50_ms=p50,
        latency_p99_ms=p99,
        latency_max_ms=top,
        output=output,
    )


def run_wrk(
    url: str, script: Path, *, connections: int, threads: int, duration: float, timeout_s: float = 5.0
) -> WrkResult:
    """Run wrk for ``duration`` seconds; the subprocess itself is bounded too."""
    command = [
        wrk_path(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={timeout_s:.0f}s",
        "-s",
        str(script),
        url + PATH,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 30, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk did not finish within {duration + 30:.0f}s") from exc
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return _parse(done.stdout)
