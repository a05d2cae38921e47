"""Long-lived collaborators of the handlers in one worker process: partner clients, routes, caches."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from handlers.effects import EffectStore
from handlers.partners.appsembler import AppsemblerClient
from handlers.partners.eduframe import CatalogVariant, Course, EduframeClient, Order, PlannedCourse, User
from handlers.partners.eduframe.catalog_cache import CatalogCache, OrderVariant
from handlers.partners.eduframe.user_cache import UserCache
from handlers.partners.pennfoster import PennFosterClient
from handlers.protection import PARTNERS, protection_for
from handlers.routes import CustomFieldNames, Offering, RouteTable

if TYPE_CHECKING:
    from handlers.context import HandlerContext


@dataclass
class Services:
    """Everything a handler calls besides the event; built once per worker process."""

    eduframe: EduframeClient
    pennfoster_factory: Callable[[], PennFosterClient]
    appsembler_factory: Callable[[], AppsemblerClient]
    routes: RouteTable
    user_fields: CustomFieldNames
    effects: EffectStore
    catalog: CatalogCache
    users: UserCache

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

    # Eduframe reads ------------------------------------------------------------------------------

    def user(self, user_id: int) -> User:
        """The Eduframe user, reused if this process read it within the user-cache time (60 s)."""
        return self.users.get(user_id, self.eduframe.get_user)

    def variant_of_order(self, order_id: int) -> int | None:
        """The catalog variant an order bought: cached, since an enrollment event only routes by it.
        ``None`` when Eduframe no longer has the order (nothing is cached then)."""
        try:
            return self.catalog.get(OrderVariant, order_id, self._read_order_variant).catalog_variant_id
        except _OrderGone:
            return None

    def _read_order_variant(self, order_id: int) -> OrderVariant:
        order = self.eduframe.find_order(order_id)
        if order is None:
            raise _OrderGone(order_id)
        return OrderVariant(id=order.id, catalog_variant_id=order.catalog_variant_id)

    # Offerings ---------------------------------------------------------------------------------

    def variant(self, variant_id: int) -> CatalogVariant:
        return self.catalog.get(CatalogVariant, variant_id, self.eduframe.get_catalog_variant)

    def offering_for_order(self, order: Order, variant: CatalogVariant) -> Offering:
        """The offering of an order just re-read; its variant is cached for the order's enrollments."""
        self.catalog.put(OrderVariant(id=order.id, catalog_variant_id=order.catalog_variant_id))
        return self.offering_of(variant)

    def offering_for_variant(self, variant_id: int) -> Offering:
        """Catalog variant → planned course → course, each read cached."""
        return self.offering_of(self.variant(variant_id))

    def offering_of(self, variant: CatalogVariant) -> Offering:
        if variant.variantable_type != "PlannedCourse":
            return Offering(course_id=None, course_code=None, catalog_product_id=variant.product_id)
        course = self._course_of_planned(variant.variantable_id)
        return Offering(course_id=course.id, course_code=course.code, catalog_product_id=variant.product_id)

    def offering_for_planned_course(self, planned_course_id: int, catalog_product_id: int | None) -> Offering:
        course = self._course_of_planned(planned_course_id)
        return Offering(course_id=course.id, course_code=course.code, catalog_product_id=catalog_product_id)

    def _course_of_planned(self, planned_course_id: int) -> Course:
        planned = self.catalog.get(PlannedCourse, planned_course_id, self.eduframe.get_planned_course)
        return self.catalog.get(Course, planned.course_id, self.eduframe.get_course)

    @property
    def routes_use_products(self) -> bool:
        return any(route.catalog_product_id is not None for route in self.routes.routes)


class _OrderGone(Exception):
    """Eduframe answered 404 for the order: there is no variant to cache."""


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
            catalog=CatalogCache.from_settings(settings),
            users=UserCache(settings.eduframe_user_cache_seconds),
        )
        ctx.services["partners"] = built
        return built


_BUILD_LOCK = threading.Lock()
