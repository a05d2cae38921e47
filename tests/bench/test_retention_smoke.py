"""Smoke test of bench.retention on a tiny SQLite ledger: it measures both cases and prints its section."""

from __future__ import annotations

import pytest

from bench.retention import END, START, main


def test_a_tiny_run_prints_both_cases(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--history", "300", "--fresh", "120", "--repeat", "1", "--database", "sqlite", "--no-write"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert text.startswith(START) and text.rstrip().endswith(END)
    assert "| sqlite | idle run over 300 redacted events |" in text
    assert "| sqlite | redact 120 payloads |" in text
