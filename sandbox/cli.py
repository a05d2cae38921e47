"""``eduhook sandbox``: the four partner sandboxes on loopback ports, plus a config for ``eduhook dev``."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

import click

from sandbox import appsembler, eduframe, pennfoster, studyabroad101
from sandbox.server import RunningServer, serve_in_thread

PARTNERS = ("eduframe", "penn_foster", "appsembler", "studyabroad101")
DEMO_EVENTS = (
    "order.approved", "order.canceled", "order.denied", "enrollment.created", "enrollment.updated",
    "enrollment.deleted", "lead.created",
)  # fmt: skip

DEMO_CONFIG = """\
# Written by `eduhook sandbox`: point eduhook at the local partner sandboxes.
# Use it with:  EDUHOOK_CONFIG={path} eduhook dev
[eduframe]
api_url = "{eduframe}"
api_token = "eduframe-sandbox-token"

[penn_foster]
api_url = "{penn_foster}"
client_id = "eduhook-sandbox"
client_secret = "sandbox-client-secret"
api_key = "sandbox-api-key"

[appsembler]
api_url = "{appsembler}"
api_token = "sandbox-appsembler-token"

[studyabroad101]
api_url = "{studyabroad101}"
api_user = "sample-provider-1"
api_key = "sandbox-studyabroad101-key"

# The demo seed's "Medical Assistant" course goes to both partners.
[[routes]]
name = "medical-assistant"
course_code = "PF-MEDASST"

[routes.penn_foster]
program_id = "TES01105"
organization_id = 141982
location_id = 244648
client_id = 329209
enrollment_type = "B2B"
contact_email_address = "enrollments@example.com"
leads = true

[routes.appsembler]
course_ids = ["course-v1:edX+DemoX+Demo_Course"]
create_accounts = true
auto_enroll = true
"""


def _load_seed(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"cannot read seed file {path}: {exc}") from exc
    if not isinstance(data, dict) or not set(data) <= set(PARTNERS):
        raise click.ClickException(f"seed file must be an object with keys among {', '.join(PARTNERS)}")
    return data


@click.command("sandbox")
@click.option(
    "--port",
    "base_port",
    type=int,
    default=8101,
    show_default=True,
    help="Eduframe listens here; Penn Foster, Appsembler, StudyAbroad101 on the next three ports.",
)
@click.option(
    "--seed",
    "seed_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON file: {"eduframe": {...}, "penn_foster": {...}, "appsembler": {...}, '
    '"studyabroad101": {...}}; a missing section gets the demo data.',
)
@click.option(
    "--deliver-to",
    metavar="URL",
    help="Register this webhook URL (eduhook's, with ?token=…) in the Eduframe sandbox.",
)
@click.option(
    "--write-config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("var/sandbox.toml"),
    show_default=True,
    help="Where to write an eduhook config pointing at these sandboxes.",
)
def sandbox(base_port: int, seed_file: Path | None, deliver_to: str | None, write_config: Path) -> None:
    """Run local simulators of Eduframe, Penn Foster, Appsembler and StudyAbroad101 on 127.0.0.1.

    They enforce each partner's contract, keep state in memory (inspect it under /_sandbox/state)
    and inject faults on request (/_sandbox/faults). Ctrl-C stops them.
    """
    seeds = _load_seed(seed_file)
    eduframe_seed = seeds.get("eduframe")
    if deliver_to:
        eduframe_seed = eduframe_seed if eduframe_seed is not None else eduframe.demo_seed()
        hooks = eduframe_seed.setdefault("webhooks", [])
        hooks.append(
            {
                "id": f"00000000-0000-4000-8000-{len(hooks) + 1:012d}",
                "url": deliver_to,
                "active": True,
                "events": list(DEMO_EVENTS),
            }
        )
    apps = {
        "eduframe": eduframe.create_app(eduframe_seed),
        "penn_foster": pennfoster.create_app(seeds.get("penn_foster")),
        "appsembler": appsembler.create_app(seeds.get("appsembler")),
        "studyabroad101": studyabroad101.create_app(seeds.get("studyabroad101")),
    }
    servers: dict[str, RunningServer] = {}
    try:
        for offset, (name, app) in enumerate(apps.items()):
            try:
                servers[name] = serve_in_thread(app, port=base_port + offset if base_port else 0)
            except OSError as exc:
                raise click.ClickException(f"cannot listen on 127.0.0.1:{base_port + offset}: {exc}") from exc
        for name, server in servers.items():
            click.echo(f"{name:15} {server.url}")
        write_config.parent.mkdir(parents=True, exist_ok=True)
        write_config.write_text(
            DEMO_CONFIG.format(path=write_config, **{name: s.url for name, s in servers.items()})
        )
        click.echo(
            f"\neduhook config for these sandboxes: {write_config}\n"
            f"  EDUHOOK_CONFIG={write_config} eduhook dev\nCtrl-C stops the sandboxes."
        )
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait()
    finally:
        for server in servers.values():
            server.stop()
