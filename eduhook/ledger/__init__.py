"""The ledger: eduhook's durable record of events, attempts and partner side effects."""

from eduhook.ledger.database import create_engine_for, upgrade
from eduhook.ledger.events import EventLedger, EventRecord, NewEvent, StoredEvent

__all__ = ["EventLedger", "EventRecord", "NewEvent", "StoredEvent", "create_engine_for", "upgrade"]
