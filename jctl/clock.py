"""Time for jctl: the one module that reads the wall clock, plus RFC 3339 and ISO-8601 duration helpers.

Journeys run on the store's simulated clock; only leases and the store's first opening look at `wall_now()`.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta, timezone

# A pattern string, not a compiled pattern: `re` compiles it on first use, so commands that never parse a
# timestamp (`status`) don't pay for it at start-up.
_RFC3339 = (
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<hms>\d{2}:\d{2}:\d{2})(?P<frac>\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})"
)


def wall_now() -> datetime:
    """The real current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def truncate_to_ms(moment: datetime) -> datetime:
    """Drop sub-millisecond precision: the store keeps milliseconds."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_epoch_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch of a timezone-aware datetime (floored)."""
    _require_aware(moment)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


@functools.lru_cache(maxsize=256)
def from_epoch_ms(epoch_ms: int) -> datetime:
    """The UTC datetime for an epoch-milliseconds value (datetimes are immutable: a transition reads the same clock
    several times, and shares one)."""
    return _EPOCH + timedelta(0, 0, 0, epoch_ms)


def later(moment: datetime, delta: timedelta | float) -> datetime:
    """`moment` plus `delta` (a timedelta or seconds); a ValueError when the result would pass the end of year 9999,
    the latest time jctl can represent."""
    try:
        return moment + (delta if isinstance(delta, timedelta) else timedelta(seconds=delta))
    except OverflowError:
        import isodate

        shown = isodate.duration_isoformat(delta) if isinstance(delta, timedelta) else f"{delta} seconds"
        raise ValueError(f"{format_rfc3339(moment)} plus {shown} is past 9999-12-31T23:59:59Z, the latest time "
                         "jctl can represent") from None


def format_rfc3339(moment: datetime) -> str:
    """`2025-12-31T23:59:00.000Z`: UTC, milliseconds, 'Z'."""
    return format_epoch_ms(to_epoch_ms(moment))


def format_epoch_ms(epoch_ms: int) -> str:
    """`format_rfc3339(from_epoch_ms(epoch_ms))` without building a datetime: listings format two per row, and
    rows share their days."""
    seconds, millis = divmod(epoch_ms, 1000)
    return formatted_second(seconds) + millis_suffixes()[millis]


@functools.cache
def millis_suffixes() -> tuple[str, ...]:
    """`000Z` .. `999Z`, a timestamp's end by its milliseconds (a lookup: formatting `03d` costs more than the rest
    of the timestamp)."""
    return tuple(f"{millis:03d}Z" for millis in range(1000))


@functools.lru_cache(maxsize=4096)
def formatted_second(epoch_seconds: int) -> str:
    """`2025-12-31T23:59:00.`: instances created or updated in the same second share it."""
    days, second_of_day = divmod(epoch_seconds, 86_400)
    minutes, second = divmod(second_of_day, 60)
    hour, minute = divmod(minutes, 60)
    return f"{_formatted_day(days)}T{hour:02d}:{minute:02d}:{second:02d}."


@functools.lru_cache(maxsize=4096)
def _formatted_day(days_since_epoch: int) -> str:
    day = from_epoch_ms(days_since_epoch * 86_400_000)
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (offset required) into a UTC datetime; ValueError says what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"expected an RFC 3339 timestamp string, got {type(text).__name__} {text!r}")
    match = re.fullmatch(_RFC3339, text.strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not an RFC 3339 timestamp; write it like 2025-12-31T23:59:00Z "
            "(date, 'T', time, and a 'Z' or ±hh:mm offset)"
        )
    if match["hms"].endswith(":60"):
        raise ValueError(f"{text!r} is a leap second, which jctl cannot represent; use :59 instead")
    frac = (match["frac"] or ".0")[1:7].ljust(6, "0")
    offset = "+00:00" if match["offset"] in ("Z", "z") else match["offset"]
    try:
        parsed = datetime.fromisoformat(f"{match['date']}T{match['hms']}.{frac}{offset}")
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid RFC 3339 timestamp: {exc}") from None
    return parsed.astimezone(timezone.utc)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO-8601 duration such as PT5M or P1DT2H.

    Months and years have no fixed length, so they are rejected rather than guessed; negative durations too.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO-8601 duration string such as PT5M, got {type(text).__name__} {text!r}")
    return _parsed_duration(text)


@functools.lru_cache(maxsize=256)
def _parsed_duration(text: str) -> timedelta:
    """parse_duration of a string, once per text (a polling timer parses the same one every round; timedeltas are
    immutable)."""
    import isodate

    invalid = f"{text!r} is not an ISO-8601 duration; write it like PT30S, PT5M, PT1H or P1DT12H"
    if not re.search(r"\d", text):
        raise ValueError(invalid)
    try:
        parsed = isodate.parse_duration(text.strip())
    except (isodate.ISO8601Error, ValueError):
        raise ValueError(invalid) from None
    except OverflowError:
        raise ValueError(f"{text!r} is longer than the longest duration jctl can represent") from None
    if isinstance(parsed, isodate.Duration):
        if parsed.years or parsed.months:
            raise ValueError(
                f"{text!r} uses months or years, which have no fixed length; write the duration in days or "
                "weeks (for example P30D or P4W), or use a timer `until` timestamp"
            )
        parsed = parsed.tdelta
    duration: timedelta = parsed
    if duration < timedelta(0):
        raise ValueError(f"{text!r} is a negative duration; durations must be zero or positive")
    return duration


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no timezone; jctl times must be timezone-aware (use timezone.utc)")
