"""``lead.created``: leads for products routed to Penn Foster with ``leads = true`` go to Penn Foster."""

from __future__ import annotations

from eduhook.ledger import EventRecord
from handlers.context import HandlerContext
from handlers.effects import EffectKey
from handlers.enrolling import PENNFOSTER
from handlers.errors import EduhookError, PartnerDataError
from handlers.events_data import resource_id
from handlers.mapping import lead_request
from handlers.partners.pennfoster import classify_result
from handlers.registry import HandlerRegistry, HandlerResult
from handlers.routes import Offering
from handlers.services import services_for


def lead_created(event: EventRecord, ctx: HandlerContext) -> HandlerResult:
    svc = services_for(ctx)
    lead = svc.eduframe.get_lead(resource_id(event))
    targets = {}
    for product in lead.lead_products:
        if product.catalog_variant_id is not None:
            offering = svc.offering_for_variant(product.catalog_variant_id)
        else:
            offering = Offering(
                course_id=None, course_code=None, catalog_product_id=product.catalog_product_id
            )
        route = svc.routes.match(offering)
        if route is not None and route.penn_foster is not None and route.penn_foster.leads:
            targets[route.penn_foster.program_id] = route.penn_foster
    if not targets:
        return HandlerResult.ignored("no route sends this lead's products to Penn Foster")
    # Penn Foster needs a birth date, which only the lead's linked Eduframe user can carry.
    user = svc.user(lead.user_id) if lead.user_id is not None else None
    store = svc.effects
    keys = [EffectKey(PENNFOSTER, "lead", event.educator, f"lead-{lead.id}", program) for program in targets]
    claims = store.claim_waiting(keys, event_id=event.id)
    for key in claims.mine:
        try:
            request = lead_request(
                lead,
                targets[key.target],
                educator=event.educator,
                effect_key=str(key),
                user=user,
                fields=svc.user_fields,
            )
            results = svc.pennfoster.create_leads([request])
            if len(results) != 1:
                raise PartnerDataError(f"leads: {len(results)} results for one lead", partner=PENNFOSTER)
            result = results[0]
            outcome = classify_result(result, what=f"lead for Eduframe lead {lead.id}")
            if outcome.kind not in ("succeeded", "already_done"):
                outcome.raise_error()
        except EduhookError as error:
            store.fail(key, claims.owner, str(error))
            raise
        store.complete(key, claims.owner, {"lead_status": result.status})
    return HandlerResult()


def register(registry: HandlerRegistry) -> None:
    registry.register("lead.created", lead_created)
