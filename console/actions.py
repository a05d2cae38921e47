"""The console's forms that change something: log in and out, replay, unredact one event.

Each checks the session's CSRF token first; every change is audited by the ledger.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from console.app import console_of, require_user
from console.forms import BadInput, Form, event_filter, filter_query, read_form
from console.replays import choose
from console.security import csrf_token, csrf_valid
from console.users import authenticate
from eduhook.ledger.replays import ReplayLedger
from eduhook.ledger.schema import DEAD

MAX_REASON = 500


async def checked_form(request: Request) -> Form:
    form = await read_form(request)
    if not csrf_valid(request, form.get("csrf_token")):
        raise BadInput("the form's CSRF token is missing or stale; reload the page and try again", 403)
    return form


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def login_page(request: Request) -> Response:
    console = console_of(request)
    if console.user_of(request):
        return RedirectResponse("/", status_code=303)
    return console.render(request, "login.html", error=None, username="")


async def login(request: Request) -> Response:
    console = console_of(request)
    form = await checked_form(request)
    name = (form.get("username") or "").strip()[:64]
    password = form.get("password") or ""
    address = _address(request)
    wait = await run_in_threadpool(console.throttle.wait, name, address)
    if wait > 0:
        response = console.render(
            request, "login.html", 429, error=f"Too many failed logins: try again in {wait:.0f} s.",
            username=name,
        )  # fmt: skip
        response.headers["Retry-After"] = str(max(1, round(wait)))
        return response
    user = await run_in_threadpool(authenticate, console.users, name, password)
    if user is None:
        await run_in_threadpool(console.throttle.failed, name, address)
        return console.render(request, "login.html", 401, error="Wrong user name or password.", username=name)
    await run_in_threadpool(console.throttle.succeeded, name, address)
    request.session.clear()  # a new session: nothing chosen before the login carries over
    request.session["user"] = user.name
    csrf_token(request)
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> Response:
    await checked_form(request)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def _reason(form: Form, *, required: bool) -> str:
    reason = (form.get("reason") or "").strip()
    if required and not reason:
        raise BadInput("give a reason: it is kept in the audit", 422)
    if len(reason) > MAX_REASON:
        raise BadInput(f"the reason is longer than {MAX_REASON} characters", 422)
    return reason


async def replay(request: Request) -> Response:
    """``event_ids`` (one field each), or ``all_matching`` with the filter fields; ``dry_run`` previews."""
    console = console_of(request)
    user = require_user(request)
    form = await checked_form(request)
    dry_run = form.get("dry_run") not in (None, "", "0")
    reason = _reason(form, required=not dry_run)
    ids = [i.strip() for i in form.getlist("event_ids") if i.strip()]
    where = None
    if form.get("all_matching"):
        fields = {k: v for k in ("type", "educator", "partner", "error_class", "since", "until")
                  if (v := form.get(k))}  # fmt: skip
        where = event_filter(fields, status=DEAD)
    elif not ids:
        raise BadInput("choose dead letters, or all matching the filter", 422)
    if any(len(i) > 64 for i in ids):
        raise BadInput("that is not an event id", 404)
    selection = await run_in_threadpool(choose, console.engine, ids, where)
    if dry_run:
        plan = await run_in_threadpool(console.replayer.preview, selection)
        return console.render(
            request, "replay_preview.html", plan=plan, reason=reason, ids=ids if where is None else [],
            filter_fields=filter_query(where) if where else {}, all_matching=where is not None,
        )  # fmt: skip
    audit_id = await run_in_threadpool(console.replayer.start, selection, actor=user.name, reason=reason)
    return RedirectResponse(f"/replays/{audit_id}", status_code=303)


async def unredact(request: Request) -> Response:
    """The event's payload as received, for a ``:pii`` user, after the audit records who and why."""
    from console.pages import detail_context

    console = console_of(request)
    user = require_user(request)
    form = await checked_form(request)
    if not user.pii:
        raise BadInput("your user may not see personal data (it has no :pii)", 403)
    event_id = request.path_params["event_id"]
    reason = _reason(form, required=True)
    context = await run_in_threadpool(detail_context, console.engine, event_id, unredacted=True)

    def record() -> None:
        ReplayLedger(console.engine).open_audit(
            actor=user.name, reason=reason, selection={"ids": [event_id]}, event_ids=[event_id],
            now=console.clock(), action="unredact",
        )  # fmt: skip

    await run_in_threadpool(record)
    return console.render(request, "event.html", **context)
