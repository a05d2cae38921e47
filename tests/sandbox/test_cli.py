"""``eduhook sandbox``: four sandboxes up, a config for eduhook written, Ctrl-C stops them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx

from tests.conftest import REPO_ROOT, wait_until


def test_sandbox_command_serves_all_partners_and_writes_a_config(tmp_path: Path) -> None:
    config = tmp_path / "sandbox.toml"
    out = tmp_path / "out.log"
    with out.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "eduhook.cli", "sandbox", "--port", "0", "--write-config", str(config),
             "--deliver-to", "http://127.0.0.1:9/webhooks/eduframe?token=t"],
            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )  # fmt: skip
    try:
        wait_until(lambda: "Ctrl-C" in out.read_text(), 30, what="the sandboxes to start")
        urls = dict(re.findall(r"^(\w+)\s+(http://\S+)$", out.read_text(), re.MULTILINE))
        assert set(urls) == {"eduframe", "penn_foster", "appsembler", "studyabroad101"}
        for url in urls.values():
            assert httpx.get(url + "/_sandbox/state").status_code == 200
        written = tomllib.loads(config.read_text())
        assert written["eduframe"]["api_url"] == urls["eduframe"]
        assert written["penn_foster"]["api_url"] == urls["penn_foster"]
        assert written["routes"][0]["course_code"] == "PF-MEDASST"
        hooks = httpx.get(
            urls["eduframe"] + "/webhooks", headers={"Authorization": "Bearer eduframe-sandbox-token"}
        ).json()
        assert [h["url"] for h in hooks] == ["http://127.0.0.1:9/webhooks/eduframe?token=t"]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(15)
    assert process.returncode == 0
