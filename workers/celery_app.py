"""Entry module for ``celery -A workers.celery_app`` (Flower, celery inspect): reads the environment.

``eduhook worker`` is the usual way in; it sets ``EDUHOOK_REDIS_URL`` for any embedded Redis.
"""

from __future__ import annotations

from eduhook.settings import load_settings
from workers.app import create_celery

_settings = load_settings()
if not _settings.redis_url:
    raise SystemExit(
        "EDUHOOK_REDIS_URL is not set; use `eduhook worker` / `eduhook flower`, which start or find Redis"
    )
app = create_celery(_settings, redis_url=_settings.redis_url)
