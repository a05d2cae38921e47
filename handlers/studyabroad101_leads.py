"""``studyabroad101.lead.created``: each StudyAbroad101 lead becomes one Eduframe lead, once.

Eduframe's ``POST /leads`` has no idempotency key, so the lead is an effect under the stable key
``eduframe:lead:<provider>:studyabroad101-lead-<id>:lead``: a redelivery, retry or replay finds it
done. A request that got no answer (in doubt) may have created the lead, and Eduframe offers no
way to look it up, so it is not sent again: the event goes dead saying so, and the operator checks
Eduframe's lead list before deciding.
"""

from __future__ import annotations

from pydantic import ValidationError

from eduhook.ledger import EventRecord
from handlers.context import HandlerContext
from handlers.effects import EffectKey
from handlers.errors import EduhookError, InDoubtError, PartnerDataError, PermanentError
from handlers.partners.eduframe.errors import PARTNER as EDUFRAME
from handlers.partners.eduframe.webhooks import LeadCreate, LeadProduct
from handlers.partners.studyabroad101 import Lead
from handlers.registry import HandlerRegistry, HandlerResult
from handlers.services import services_for

LEAD_CREATED = "studyabroad101.lead.created"


def read_lead(event: EventRecord) -> Lead:
    """The StudyAbroad101 lead the poller stored; a malformed one is permanent, naming fields only."""
    try:
        return Lead.model_validate(event.payload.get("lead"))
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) or "lead" for err in exc.errors()[:5])
        raise PartnerDataError(f"stored lead is malformed ({fields})", partner="studyabroad101") from exc


def eduframe_lead(lead: Lead, catalog_product_id: int | None) -> LeadCreate:
    """The Eduframe lead: the name split at its first space, and what Eduframe has no field for in
    the comment (university, study period, lead type, program)."""
    first, _, last = (lead.name or "").strip().partition(" ")
    lines = [
        f"StudyAbroad101 {lead.lead_type.lower()} lead {lead.id}",
        f"Lead type: {lead.lead_type}",
        f"University: {lead.university or '-'}",
        f"Study period: {lead.study_period or '-'}",
        f"Program: {lead.program_name or '-'} ({lead.program_id})",
    ]
    if lead.comment:
        lines.append(f"Comment: {lead.comment}")
    return LeadCreate(
        first_name=first or None,
        last_name=last.strip() or None,
        email=(lead.email or "").strip() or None,
        phone=(lead.phone_number or "").strip() or None,
        comment="\n".join(lines),
        lead_products=[LeadProduct(catalog_product_id=catalog_product_id)] if catalog_product_id else [],
    )


def lead_created(event: EventRecord, ctx: HandlerContext) -> HandlerResult:
    lead = read_lead(event)
    settings = ctx.settings
    products = {p.program_id: p.catalog_product_id for p in settings.studyabroad101_programs}
    product = products.get(lead.program_id) if lead.program_id is not None else None
    if product is None and settings.studyabroad101_unmapped == "ignore":
        return HandlerResult.ignored(f"program {lead.program_id} is not in [[studyabroad101.programs]]")
    svc = services_for(ctx)
    store = svc.effects
    key = EffectKey(EDUFRAME, "lead", event.educator, f"studyabroad101-lead-{lead.id}", "lead")
    claims = store.claim_waiting([key], event_id=event.id)
    if key not in claims.mine:
        return HandlerResult()  # done already (or cancelled): nothing to send
    if key in claims.in_doubt:
        reason = "an earlier POST /leads got no answer and may have created this lead; check Eduframe"
        store.settle(claims.owner, in_doubt={key: reason})
        raise PermanentError(f"StudyAbroad101 lead {lead.id}: {reason}", partner=EDUFRAME)
    try:
        created = svc.eduframe.create_lead(eduframe_lead(lead, product))
    except InDoubtError as error:
        store.settle(claims.owner, in_doubt={key: str(error)})
        raise
    except EduhookError as error:
        store.fail(key, claims.owner, str(error))
        raise
    store.complete(key, claims.owner, {"eduframe_lead_id": created.id})
    return HandlerResult()


def register(registry: HandlerRegistry) -> None:
    registry.register(LEAD_CREATED, lead_created)
