"""Tests for jctl.clock: wall time, RFC 3339 timestamps, ISO-8601 durations, epoch-ms conversions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jctl.clock import (
    format_epoch_ms,
    format_rfc3339,
    from_epoch_ms,
    later,
    parse_duration,
    parse_rfc3339,
    to_epoch_ms,
    truncate_to_ms,
    wall_now,
)

UTC = timezone.utc


def test_wall_now_is_aware_utc_and_close_to_system_time() -> None:
    now = wall_now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert abs(now.timestamp() - datetime.now(UTC).timestamp()) < 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-12-31T23:59:00Z", datetime(2025, 12, 31, 23, 59, tzinfo=UTC)),
        ("2025-12-31t23:59:00z", datetime(2025, 12, 31, 23, 59, tzinfo=UTC)),
        ("2025-12-31 23:59:00Z", datetime(2025, 12, 31, 23, 59, tzinfo=UTC)),
        ("2026-01-01T01:00:00.5+02:00", datetime(2025, 12, 31, 23, 0, 0, 500000, tzinfo=UTC)),
        ("2025-06-01T00:00:00.123456789-05:30", datetime(2025, 6, 1, 5, 30, 0, 123456, tzinfo=UTC)),
    ],
)
def test_parse_rfc3339_returns_utc(text: str, expected: datetime) -> None:
    parsed = parse_rfc3339(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2025-12-31T23:59:00", "offset"),  # no offset: RFC 3339 requires one
        ("2025-12-31", "RFC 3339"),
        ("tomorrow", "RFC 3339"),
        ("2025-02-30T00:00:00Z", "day is out of range"),
        ("2025-12-31T23:59:60Z", "leap second"),
    ],
)
def test_parse_rfc3339_rejects_with_a_clear_message(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_rfc3339(text)


def test_parse_rfc3339_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="expected an RFC 3339 timestamp string, got int"):
        parse_rfc3339(12)  # type: ignore[arg-type]


def test_format_rfc3339_uses_utc_milliseconds_and_z() -> None:
    moment = datetime(2025, 1, 2, 5, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))
    assert format_rfc3339(moment) == "2025-01-02T03:04:05.678Z"
    assert format_rfc3339(parse_rfc3339("2025-01-02T03:04:05Z")) == "2025-01-02T03:04:05.000Z"


def test_format_rfc3339_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone"):
        format_rfc3339(datetime(2025, 1, 1))


def test_epoch_ms_round_trip_and_truncation() -> None:
    moment = datetime(2025, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)
    assert to_epoch_ms(moment) == int(moment.timestamp() * 1000)
    assert from_epoch_ms(to_epoch_ms(moment)) == truncate_to_ms(moment) == moment.replace(microsecond=891000)
    assert to_epoch_ms(datetime(1969, 12, 31, 23, 59, 59, 999500, tzinfo=UTC)) == -1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT5M", timedelta(minutes=5)),
        ("PT1H", timedelta(hours=1)),
        ("P1D", timedelta(days=1)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("P2W", timedelta(weeks=2)),
        ("PT1.5S", timedelta(seconds=1.5)),
        ("P0D", timedelta(0)),
        ("P0Y0M3D", timedelta(days=3)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("P1M", "months or years"),
        ("P1Y", "months or years"),
        ("-PT5M", "negative"),
        ("PT", "not an ISO-8601 duration"),
        ("5 minutes", "not an ISO-8601 duration"),
        ("", "not an ISO-8601 duration"),
    ],
)
def test_parse_duration_rejects_with_a_clear_message(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_duration(text)


def test_durations_and_sums_past_year_9999_are_value_errors_not_overflows():
    with pytest.raises(ValueError, match="longest duration"):
        parse_duration("PT99999999999999999999S")
    end = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    assert later(end, 60) == end + timedelta(minutes=1)
    with pytest.raises(ValueError, match=r"plus PT2H is past 9999-12-31T23:59:59Z"):
        later(end, timedelta(hours=2))
    with pytest.raises(ValueError, match="plus 99999999999 seconds"):
        later(end, 99_999_999_999)


@given(st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999))
def test_epoch_ms_formats_like_a_datetime(epoch_ms: int) -> None:
    assert format_epoch_ms(epoch_ms) == format_rfc3339(from_epoch_ms(epoch_ms))
