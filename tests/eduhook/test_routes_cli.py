"""``eduhook routes check``: the file offline, and ``--online`` against the Penn Foster sandbox."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from starlette.types import ASGIApp

from eduhook.cli.main import Context
from eduhook.cli.routes import routes
from sandbox.pennfoster import DEFAULT_API_KEY, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app
from sandbox.server import RunningServer

APPSEMBLER_ONLY = (
    '[[routes]]\nname = "python"\ncourse_id = 9\n[routes.appsembler]\ncourse_ids = ["course-v1:A+B+C"]\n'
)
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "routes.example.toml"

# Credentials and config come from the file under test, never from the developer's environment.
_ISOLATED = {
    name: None
    for base in (
        "CONFIG",
        "PENNFOSTER_API_URL",
        "PENNFOSTER_CLIENT_ID",
        "PENNFOSTER_CLIENT_SECRET",
        "PENNFOSTER_API_KEY",
        "EDUFRAME_API_URL",
        "EDUFRAME_API_TOKEN",
        "APPSEMBLER_API_URL",
        "APPSEMBLER_API_TOKEN",
        "APPSEMBLER_CLIENT_ID",
        "APPSEMBLER_CLIENT_SECRET",
        "REDIS_URL",
        "HANDLER_MODULES",
    )
    for name in (f"EDUHOOK_{base}", base)
}
# The example keeps credentials in the environment, as production does.
OTHER_PARTNERS = {
    "EDUFRAME_API_TOKEN": "eduframe-token",
    "APPSEMBLER_API_URL": "https://appsembler.test",
    "APPSEMBLER_API_TOKEN": "appsembler-token",
}
CREDENTIALS = {
    **OTHER_PARTNERS,
    "PENNFOSTER_CLIENT_ID": "id",
    "PENNFOSTER_CLIENT_SECRET": "secret",
    "PENNFOSTER_API_KEY": "key",
}


def penn_foster_route(name: str, org: int = 141982, loc: int = 244648, client: int = 329209) -> str:
    return f"""
[[routes]]
name = "{name}"
course_code = "{name.upper()}"
[routes.penn_foster]
program_id = "00787105"
organization_id = {org}
location_id = {loc}
client_id = {client}
enrollment_type = "B2BENRICH"
contact_email_address = "enrollments@example.edu"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "eduhook.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str, env: Mapping[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(routes, ["check", *args], obj=Context(), env={**_ISOLATED, **(env or {})})


def sandbox_section(url: str, secret: str = DEFAULT_CLIENT_SECRET) -> str:
    return f"""
[penn_foster]
api_url = "{url}"
client_id = "{DEFAULT_CLIENT_ID}"
client_secret = "{secret}"
api_key = "{DEFAULT_API_KEY}"
"""


def test_the_example_file_is_valid() -> None:
    result = run("--config", str(EXAMPLE), env=CREDENTIALS)
    assert result.exit_code == 0, result.output
    assert result.output == "2 routes OK\n"


def test_the_file_named_by_eduhook_config_is_checked_by_default(tmp_path: Path) -> None:
    path = write(tmp_path, penn_foster_route("nursing"))
    env = {"EDUHOOK_CONFIG": str(path), "EDUHOOK_DATA_DIR": str(tmp_path / "var"), **CREDENTIALS}
    result = run(env=env)
    assert (result.exit_code, result.output) == (0, "1 route OK\n")


def test_the_partners_routes_send_to_need_their_credentials() -> None:
    result = run("--config", str(EXAMPLE))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "eduframe: EDUFRAME_API_TOKEN is not set (every route re-reads Eduframe)",
        "penn_foster: Penn Foster needs PENNFOSTER_CLIENT_ID, PENNFOSTER_CLIENT_SECRET, PENNFOSTER_API_KEY"
        " (route 'medical-assistant' sends to Penn Foster)",
        "appsembler: APPSEMBLER_API_URL is not set"
        " (routes 'medical-assistant', 'python-self-paced' send to Appsembler)",
    ]


def test_a_misplaced_key_names_the_table_that_takes_it(tmp_path: Path) -> None:
    text = penn_foster_route("nursing").replace("enrollment_type", 'gender = "F"\nenrollment_type')
    text += '\n[penn_foster]\napi_ky = "k"\n'
    result = run("--config", str(write(tmp_path, text)), env=CREDENTIALS)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "penn_foster.api_ky: unknown field (did you mean `[penn_foster] api_key`?)",
        "route 'nursing': penn_foster.gender: unknown field"
        " (did you mean `[routes.penn_foster.defaults] gender`?)",
    ]


def test_no_routes_is_valid_but_says_what_it_means(tmp_path: Path) -> None:
    result = run("--config", str(write(tmp_path, "")))
    assert result.exit_code == 0
    assert "0 routes OK" in result.output and "'no route'" in result.output


def test_each_problem_is_printed_on_its_own_line(tmp_path: Path) -> None:
    text = (
        penn_foster_route("nursing")
        + penn_foster_route("nursing").replace("NURSING", "OTHER")
        + '\n[[routes]]\nname = "bad-key"\ncourse_id = 5\n[routes.appsembler]\ncourse_ids = ["MA101"]\n'
        + '\n[[routes]]\ncourse_id = 6\n[routes.penn_foster]\nprogram_id = "1"\n'
        + '\n[user_fields]\nphonne = "mobile"\n'
    )
    result = run("--config", str(write(tmp_path, text)))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "route 'nursing': duplicate name (route #1 has it too)" in lines
    assert any(
        line.startswith("route 'bad-key': appsembler.course_ids[0]: course key 'MA101'") for line in lines
    )
    assert "route #4: name: field required" in lines
    assert "route #4: penn_foster.organization_id: field required" in lines
    assert lines[-1] == "user_fields.phonne: unknown field (did you mean `[user_fields] phone`?)"
    assert "OK" not in result.output


def test_unreadable_files_fail_clearly(tmp_path: Path) -> None:
    missing = run("--config", str(tmp_path / "nope.toml"))
    assert missing.exit_code == 1 and "does not exist" in missing.output
    broken = run("--config", str(write(tmp_path, "[[routes]\n")))
    assert broken.exit_code == 1 and "is not valid TOML" in broken.output


@pytest.fixture
def penn_foster(serve: Callable[[ASGIApp], RunningServer]) -> RunningServer:
    return serve(create_app())


def organization_lookups(server: RunningServer) -> list[str]:
    recorded = httpx.get(f"{server.url}/_sandbox/requests").json()
    return [r["path"] for r in recorded if "/organizations/" in r["path"]]


def test_online_check_finds_the_sandbox_organizations(tmp_path: Path, penn_foster: RunningServer) -> None:
    text = (
        sandbox_section(penn_foster.url)
        + penn_foster_route("nursing")
        + penn_foster_route("welding")  # the same ids: looked up once
        + penn_foster_route("mockingbird", 143738, 247319, 333813)
        + "\n"
        + APPSEMBLER_ONLY
    )
    result = run("--config", str(write(tmp_path, text)), "--online", env=OTHER_PARTNERS)
    assert result.exit_code == 0, result.output
    assert result.output == "4 routes OK (Penn Foster organizations found online)\n"
    assert sorted(organization_lookups(penn_foster)) == [
        "/api/v3/b2b/organizations/141982",
        "/api/v3/b2b/organizations/141982/locations/244648",
        "/api/v3/b2b/organizations/141982/locations/244648/clients/329209",
        "/api/v3/b2b/organizations/143738",
        "/api/v3/b2b/organizations/143738/locations/247319",
        "/api/v3/b2b/organizations/143738/locations/247319/clients/333813",
    ]


def test_online_check_names_the_route_and_the_missing_id(tmp_path: Path, penn_foster: RunningServer) -> None:
    text = (
        sandbox_section(penn_foster.url)
        + penn_foster_route("good")
        + penn_foster_route("no-org", org=999999)
        + penn_foster_route("no-location", loc=111111)
        + penn_foster_route("no-client", client=222222)
        + penn_foster_route("wrong-tree", 141982, 247319, 333813)  # a location of the other organization
    )
    result = run("--config", str(write(tmp_path, text)), "--online", env=OTHER_PARTNERS)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "route 'no-org': penn_foster.organization_id 999999 not found at Penn Foster",
        "route 'no-location': penn_foster.location_id 111111 not found at Penn Foster",
        "route 'no-client': penn_foster.client_id 222222 not found at Penn Foster",
        "route 'wrong-tree': penn_foster.location_id 247319 not found at Penn Foster",
    ]


def test_online_check_reports_refused_credentials_once(tmp_path: Path, penn_foster: RunningServer) -> None:
    text = (
        sandbox_section(penn_foster.url, secret="wrong")
        + penn_foster_route("a")
        + penn_foster_route("b", org=1)
    )
    result = run("--config", str(write(tmp_path, text)), "--online", env=OTHER_PARTNERS)
    assert result.exit_code == 1
    (line,) = result.output.splitlines()
    assert line.startswith("penn_foster: cannot check online: token request refused")
    assert "wrong" not in line and "Traceback" not in result.output


def test_online_check_without_credentials_stops_at_the_offline_check(tmp_path: Path) -> None:
    path = write(tmp_path, penn_foster_route("nursing"))
    result = run("--config", str(path), "--online", env=OTHER_PARTNERS)
    assert result.exit_code == 1
    assert result.output == (
        "penn_foster: Penn Foster needs PENNFOSTER_CLIENT_ID, PENNFOSTER_CLIENT_SECRET, PENNFOSTER_API_KEY"
        " (route 'nursing' sends to Penn Foster)\n"
    )


def test_online_check_reports_an_unreachable_partner(tmp_path: Path) -> None:
    text = sandbox_section("http://127.0.0.1:9") + penn_foster_route("nursing")
    result = run("--config", str(write(tmp_path, text)), "--online", env=OTHER_PARTNERS)
    assert result.exit_code == 1
    assert result.output.startswith("penn_foster: cannot check online: ")
    assert "Traceback" not in result.output


def test_online_check_skips_penn_foster_when_no_route_uses_it(tmp_path: Path) -> None:
    result = run("--config", str(write(tmp_path, APPSEMBLER_ONLY)), "--online", env=OTHER_PARTNERS)
    assert (result.exit_code, result.output) == (0, "1 route OK\n")
