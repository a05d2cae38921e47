"""Slow and vanishing clients, over raw sockets against ``eduhook serve``: deadlines, 408, log lines.

Each test runs the real ``eduhook serve`` (uvicorn with receiver/connections.py's protocol) with
deadlines of a second or less, and drives it byte by byte the way a slow or broken client would.
"""

from __future__ import annotations

import json
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from eduhook.settings import Settings
from tests.conftest import TEST_TOKEN, settings_env, wait_until
from tests.receiver.test_webhooks import envelope
from tests.support.receiver_process import ReceiverProcess, receiver_process

KEEP_ALIVE, HEADER, BODY = 0.5, 1.0, 1.0
# How late a deadline may fire on a busy 2-core machine and still count as on time.
SLACK = 0.5


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: nothing here reaches the database, which is the point of every test."""
    return f"sqlite:///{tmp_path / 'eduhook.db'}"


@pytest.fixture
def receiver(eduhook_settings: Settings) -> Iterator[ReceiverProcess]:
    with receiver_process(eduhook_settings, keep_alive=KEEP_ALIVE, header=HEADER, body=BODY) as served:
        yield served


def head(length: int, token: str = TEST_TOKEN) -> bytes:
    return (
        f"POST /webhooks/eduframe?token={token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


@dataclass
class Outcome:
    received: bytes
    answered_after: float | None  # seconds from the start to the first byte the server sent
    closed_after: float  # seconds from the start to the server closing the connection


def drip(sock: socket.socket, data: bytes, *, until: float, every: float = 0.1) -> Outcome:
    """Send ``data`` one byte per ``every`` s for ``until`` s, then only listen, until the server closes."""
    start = time.monotonic()
    received, answered_after = b"", None
    pending = iter(data)
    while (elapsed := time.monotonic() - start) < 5.0:
        readable, _, _ = select.select([sock], [], [], every)
        if readable:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return Outcome(received, answered_after, time.monotonic() - start)
            answered_after = elapsed if answered_after is None else answered_after
            received += chunk
        elif elapsed < until and (byte := next(pending, None)) is not None:
            sock.sendall(bytes([byte]))
    raise AssertionError("the server kept the connection open for 5 s")


def test_a_body_sent_too_slowly_is_answered_408_at_the_body_deadline(receiver: ReceiverProcess) -> None:
    body = json.dumps(envelope()).encode()
    with receiver.connect() as sock:
        sock.sendall(head(len(body)) + body[:10])
        # Bytes keep coming for 0.6 s: the deadline counts from the headers, not from the last byte.
        outcome = drip(sock, body[10:], until=0.6)
    assert outcome.received.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in outcome.received.lower()
    assert outcome.answered_after is not None and BODY * 0.9 <= outcome.answered_after < BODY + SLACK
    lines = receiver.quiesce()
    ours = [line for line in lines if " eduhook.receiver: " in line]
    assert len(ours) == 1 and " INFO " in ours[0] and "in 1 s: answered 408, nothing recorded" in ours[0]
    assert "Traceback" not in "\n".join(lines)
    assert receiver.recorded() == 0
    assert receiver.answered(408) == 1


def test_headers_sent_too_slowly_close_the_connection_at_the_header_deadline(
    receiver: ReceiverProcess,
) -> None:
    with receiver.connect() as sock:
        sock.sendall(b"POST /webhooks/eduframe HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        outcome = drip(sock, b"X-Slow: " + b"a" * 100, until=0.6)
    assert outcome.received == b""
    # The header deadline (1 s from the first byte) closed it, not the idle one (0.5 s).
    assert HEADER * 0.9 <= outcome.closed_after < HEADER + SLACK
    lines = receiver.quiesce()
    closed = [line for line in lines if "did not finish its request headers within 1 s" in line]
    assert len(closed) == 1 and " INFO eduhook.receiver: client 127.0.0.1:" in closed[0]
    assert receiver.recorded() == 0


def test_a_request_begun_behind_another_keeps_its_header_deadline(receiver: ReceiverProcess) -> None:
    body = json.dumps(envelope()).encode()
    with receiver.connect() as sock:
        sock.sendall(head(len(body)) + body + b"POST /webhooks/eduframe HTTP/1.1\r\n")
        outcome = drip(sock, b"Host: 127.0.0.1", until=0.6)
    assert outcome.received.startswith(b"HTTP/1.1 202 ")
    # The first answer does not restart the second request's clock as an idle connection's.
    assert HEADER * 0.9 <= outcome.closed_after < HEADER + SLACK
    assert sum("did not finish its request headers" in line for line in receiver.quiesce()) == 1
    assert receiver.recorded() == 1


def _nothing(receiver: ReceiverProcess, sock: socket.socket) -> bytes:
    return b""


def _blank_lines(receiver: ReceiverProcess, sock: socket.socket) -> bytes:
    return b"\r\n" * 50  # begin no request, so they must not keep the connection open


def _after_an_answer(receiver: ReceiverProcess, sock: socket.socket) -> bytes:
    body = json.dumps(envelope()).encode()
    sock.sendall(head(len(body)) + body)
    answer = sock.makefile("rb")
    assert answer.readline().startswith(b"HTTP/1.1 202 ")
    headers = dict(line.rstrip().lower().split(b": ", 1) for line in iter(answer.readline, b"\r\n"))
    answer.read(int(headers[b"content-length"]))
    return b""


@pytest.mark.parametrize("before", [_nothing, _blank_lines, _after_an_answer])
def test_an_idle_connection_is_closed_at_the_keep_alive_deadline(
    receiver: ReceiverProcess, before: Callable[[ReceiverProcess, socket.socket], bytes]
) -> None:
    with receiver.connect() as sock:
        trickle = before(receiver, sock)
        outcome = drip(sock, trickle, until=HEADER + SLACK)
    assert outcome.received == b""
    assert KEEP_ALIVE * 0.9 <= outcome.closed_after < KEEP_ALIVE + SLACK
    assert not [line for line in receiver.quiesce() if "eduhook.receiver" in line]
    assert receiver.recorded() == (1 if before is _after_an_answer else 0)


def test_a_client_that_disconnects_mid_body_is_one_info_line_and_nothing_recorded(
    receiver: ReceiverProcess,
) -> None:
    body = json.dumps(envelope()).encode()
    sent_before_leaving = [0, 1, 10, len(body) // 2, len(body) - 1]
    for sent in sent_before_leaving:
        with receiver.connect() as sock:
            sock.sendall(head(len(body)) + body[:sent])
    count = len(sent_before_leaving)
    wait_until(
        lambda: sum("disconnected after" in line for line in receiver.log_lines()) == count,
        10,
        what="one line per disconnect",
    )
    lines = receiver.quiesce()
    ours = [line for line in lines if " eduhook.receiver: " in line]
    # How much of the body the app saw before the hang-up depends on timing; the line is the same.
    shape = rf" INFO eduhook.receiver: client 127\.0\.0\.1:\d+ disconnected after \d+ of {len(body)} body"
    assert len(ours) == count
    assert all(re.search(shape + " bytes; nothing recorded$", line) for line in ours), ours
    assert "Traceback" not in "\n".join(lines) and " ERROR " not in "\n".join(lines)
    assert receiver.recorded() == 0
    assert receiver.answered(499) == count


def test_a_bad_deadline_stops_serve_at_start_naming_the_key(eduhook_settings: Settings) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "eduhook.cli", "serve"],
        env=settings_env(eduhook_settings, EDUHOOK_HEADER_TIMEOUT="0"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "header_timeout" in done.stderr and "greater than 0" in done.stderr
