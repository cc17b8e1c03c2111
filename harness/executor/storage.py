"""Flow Data Storage: a key-value store shared by every call of a run.

Values may carry a TTL measured on the run's clock. Operations are atomic with
respect to asyncio tasks because none of them awaits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["DataStorage"]


class DataStorage:
    """get / set / increment / delete with optional TTL, on an injected clock."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._data: dict[str, tuple[Any, float | None]] = {}
        self._listeners: list[Callable[[str, Any], None]] = []

    def get(self, key: str, default: Any = None) -> Any:
        item = self._data.get(key)
        if item is None:
            return default
        value, expires = item
        if expires is not None and self._now() >= expires:
            del self._data[key]
            return default
        return value

    def set(self, key: str, value: Any, ttl_ms: int | None = None) -> None:
        expires = self._now() + ttl_ms / 1000 if ttl_ms else None
        self._data[key] = (value, expires)
        for listener in list(self._listeners):
            listener(key, value)

    def increment(self, key: str, by: float = 1, ttl_ms: int | None = None) -> Any:
        current = self.get(key, 0)
        try:
            value = (current if isinstance(current, int | float) else float(current)) + by
        except (TypeError, ValueError):
            value = by
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        self.set(key, value, ttl_ms)
        return value

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def subscribe(self, listener: Callable[[str, Any], None]) -> Callable[[], None]:
        """Call `listener(key, value)` on every set; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def snapshot(self) -> dict[str, Any]:
        return {k: self.get(k) for k in list(self._data)}
