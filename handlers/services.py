"""Long-lived collaborators of the handlers in one worker process: partner clients, routes, caches."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from handlers.effects import EffectStore
from handlers.partners.appsembler import AppsemblerClient
from handlers.partners.eduframe import EduframeClient
from handlers.partners.pennfoster import PennFosterClient
from handlers.protection import PARTNERS, protection_for
from handlers.routes import CustomFieldNames, Offering, RouteTable

if TYPE_CHECKING:
    from handlers.context import HandlerContext

T = TypeVar("T")


class TTLCache:
    """A small thread-safe cache of Eduframe reads that rarely change (variants, courses)."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._items: dict[tuple[str, int], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, kind: str, key: int, load: Callable[[int], T]) -> T:
        now = self.clock()
        with self._lock:
            hit = self._items.get((kind, key))
        if hit is not None and hit[0] > now:
            value: T = hit[1]
            return value
        loaded = load(key)
        with self._lock:
            self._items[(kind, key)] = (now + self.ttl, loaded)
        return loaded


@dataclass
class Services:
    """Everything a handler calls besides the event; built once per worker process."""

    eduframe: EduframeClient
    pennfoster_factory: Callable[[], PennFosterClient]
    appsembler_factory: Callable[[], AppsemblerClient]
    routes: RouteTable
    user_fields: CustomFieldNames
    effects: EffectStore
    catalog: TTLCache

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._pennfoster: PennFosterClient | None = None
        self._appsembler: AppsemblerClient | None = None

    @property
    def pennfoster(self) -> PennFosterClient:
        """Built on first use, so a deployment without Penn Foster routes needs no credentials."""
        with self._lock:
            if self._pennfoster is None:
                self._pennfoster = self.pennfoster_factory()
            return self._pennfoster

    @property
    def appsembler(self) -> AppsemblerClient:
        with self._lock:
            if self._appsembler is None:
                self._appsembler = self.appsembler_factory()
            return self._appsembler

    # Offerings ---------------------------------------------------------------------------------

    def offering_for_variant(self, variant_id: int) -> Offering:
        """Catalog variant → planned course → course, each read cached."""
        variant = self.catalog.get("variant", variant_id, self.eduframe.get_catalog_variant)
        if variant.variantable_type != "PlannedCourse":
            return Offering(course_id=None, course_code=None, catalog_product_id=variant.product_id)
        course = self._course_of_planned(variant.variantable_id)
        return Offering(course_id=course.id, course_code=course.code, catalog_product_id=variant.product_id)

    def offering_for_planned_course(self, planned_course_id: int, catalog_product_id: int | None) -> Offering:
        course = self._course_of_planned(planned_course_id)
        return Offering(course_id=course.id, course_code=course.code, catalog_product_id=catalog_product_id)

    def _course_of_planned(self, planned_course_id: int) -> Any:
        planned = self.catalog.get("planned_course", planned_course_id, self.eduframe.get_planned_course)
        return self.catalog.get("course", planned.course_id, self.eduframe.get_course)

    @property
    def routes_use_products(self) -> bool:
        return any(route.catalog_product_id is not None for route in self.routes.routes)


def services_for(ctx: HandlerContext) -> Services:
    """The process's ``Services``, built on first use from the context's settings."""
    existing = ctx.services.get("partners")
    if isinstance(existing, Services):
        return existing
    with _BUILD_LOCK:
        existing = ctx.services.get("partners")
        if isinstance(existing, Services):
            return existing
        settings = ctx.settings
        given = ctx.services.get("transports", {})
        # Every partner call goes through its partner's breaker and budget (handlers/protection).
        protection = protection_for(ctx)
        transports = {partner: protection.transport(partner, given.get(partner)) for partner in PARTNERS}
        built = Services(
            eduframe=EduframeClient.from_settings(settings, transport=transports["eduframe"]),
            pennfoster_factory=lambda: PennFosterClient.from_settings(
                settings, transport=transports["pennfoster"]
            ),
            appsembler_factory=lambda: AppsemblerClient.from_settings(
                settings, transport=transports["appsembler"]
            ),
            routes=RouteTable.from_settings(settings),
            user_fields=CustomFieldNames.from_settings(settings),
            effects=EffectStore(
                ctx.engine,
                lease=dt.timedelta(seconds=settings.effect_lease_seconds),
                clock=ctx.clock,
            ),
            catalog=TTLCache(settings.eduframe_cache_seconds),
        )
        ctx.services["partners"] = built
        return built


_BUILD_LOCK = threading.Lock()
