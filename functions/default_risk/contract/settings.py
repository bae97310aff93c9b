"""The function's settings that are a number of seconds, parsed the same way everywhere."""

from __future__ import annotations

MAX_SECONDS = 3600.0


def seconds_setting(name: str, raw: str, default: float) -> float:
    """``raw``, the value of the environment variable ``name``, as seconds (``default`` when empty); a ValueError
    naming the variable when it is not a number of seconds above 0."""
    try:
        seconds = float(raw) if raw else default
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < MAX_SECONDS:
        raise ValueError(f"{name} must be a number of seconds above 0 and below {MAX_SECONDS:g}, got {raw[:40]!r}")
    return seconds
