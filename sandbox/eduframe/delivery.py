"""Webhook delivery as Eduframe does it: POST to every subscribed webhook, 10 s limit, retries, a log.

Each notification runs as an asyncio task on the sandbox's event loop. An attempt succeeds on any
2xx within ``delivery_timeout``; anything else (other status, timeout, refused connection, redirect)
is recorded in ``send_attempts`` and retried after the next of ``retry_delays``; when they run out
the notification is ``failed`` and shows in ``/notifications/failed``. Attempts that got no answer
are recorded with ``status_code`` 0 and the reason as ``response``.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from sandbox.base import SandboxClock
from sandbox.eduframe.state import EduframeState, Notification, SendAttempt

MAX_RESPONSE_CHARS = 1000


class Deliverer:
    """Schedules, runs and awaits webhook notifications; owns the outgoing ``httpx.AsyncClient``."""

    def __init__(self, state: EduframeState, clock: SandboxClock) -> None:
        self.state = state
        self.clock = clock
        self._client: httpx.AsyncClient | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def _http(self) -> httpx.AsyncClient:
        # Created on first use so it belongs to the loop that serves the app.
        if self._client is None:
            self._client = httpx.AsyncClient(
                follow_redirects=False,
                trust_env=False,  # deliveries go to the URL as registered, never through a proxy
                headers={"User-Agent": "Eduframe-Webhooks (sandbox)"},
            )
        return self._client

    def emit(
        self, event: str, event_data: dict[str, Any], *, overrides: dict[str, str] | None = None
    ) -> list[Notification]:
        """Queue ``event`` for every active webhook subscribed to it; returns the new notifications."""
        payload = {
            "tenant_id": self.state.tenant_id,
            "educator": self.state.educator,
            "event": event,
            "event_data": event_data,
            **(overrides or {}),
        }
        event_id = str(uuid.uuid4())
        created: list[Notification] = []
        for hook in self.state.webhooks.values():
            if not hook.get("active", True) or event not in hook.get("events", []):
                continue
            notification = Notification(
                id=str(uuid.uuid4()),
                webhook_id=str(hook["id"]),
                event_id=event_id,
                data=payload,
                created_at=self.clock(),
            )
            self.state.notifications[notification.id] = notification
            self._tasks[notification.id] = asyncio.create_task(self._deliver(notification, str(hook["url"])))
            created.append(notification)
        return created

    async def wait(self, notification_ids: list[str] | None = None, limit: float = 30.0) -> bool:
        """Wait until the given (default: all) deliveries reach their final outcome; ``False`` on timeout."""
        ids = list(self._tasks) if notification_ids is None else notification_ids
        tasks = [self._tasks[i] for i in ids if i in self._tasks]
        if not tasks:
            return True
        _, pending = await asyncio.wait(tasks, timeout=limit)
        return not pending

    def cancel_all(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        self.cancel_all()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _deliver(self, notification: Notification, url: str) -> None:
        try:
            delays = list(self.state.retry_delays)
            while True:
                attempt = await self._attempt(notification, url)
                notification.send_attempts.append(attempt)
                if 200 <= attempt.status_code < 300:
                    notification.status = "succeeded"
                    return
                if not delays:
                    notification.status = "failed"
                    return
                notification.status = "retry"
                await asyncio.sleep(delays.pop(0))
        finally:
            self._tasks.pop(notification.id, None)

    async def _attempt(self, notification: Notification, url: str) -> SendAttempt:
        started = self.clock()
        timeout = self.state.delivery_timeout
        try:
            async with asyncio.timeout(timeout):
                response = await self._http().post(url, json=notification.data, timeout=timeout)
        except TimeoutError:
            return SendAttempt(0, f"timed out after {timeout:g} s", started)
        except httpx.TimeoutException:
            return SendAttempt(0, f"timed out after {timeout:g} s", started)
        except httpx.HTTPError as exc:
            return SendAttempt(0, f"connection failed: {type(exc).__name__}", started)
        return SendAttempt(response.status_code, response.text[:MAX_RESPONSE_CHARS], started)
