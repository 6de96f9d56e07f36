"""The ``revenue:`` configuration the runs read: defaults, and bad values refused by key."""

from __future__ import annotations

from pathlib import Path

import pytest

from legato_pay.config import load_settings
from legato_pay.errors import ConfigError


def test_the_defaults() -> None:
    revenue = load_settings(environ={}).revenue
    assert (revenue.subscription.writer_percent, revenue.subscription.platform_percent) == (
        "65",
        "35",
    )
    assert (revenue.licensing.writer_percent, revenue.ads.writer_percent) == ("85", "60")
    assert revenue.pool.no_engagement == "carry"
    assert revenue.fraud.max_minutes_per_day == 1440
    assert revenue.fraud.content_share_percent == "80"
    assert revenue.fraud.content_share_min_minutes == 600


def test_a_user_file_sets_the_pool_policy_and_caps(tmp_path: Path) -> None:
    path = tmp_path / "legato.yaml"
    path.write_text(
        "revenue:\n  pool: {no_engagement: platform}\n  fraud: {content_share_percent: '50'}\n"
    )
    revenue = load_settings(path, environ={}).revenue
    assert revenue.pool.no_engagement == "platform"
    assert revenue.fraud.content_share_percent == "50"
    assert revenue.fraud.max_minutes_per_day == 1440  # the rest stays


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [
        ("LEGATO_REVENUE__POOL__NO_ENGAGEMENT", "burn", "no_engagement"),
        ("LEGATO_REVENUE__FRAUD__MAX_MINUTES_PER_DAY", "1441", "max_minutes_per_day"),
        ("LEGATO_REVENUE__FRAUD__MAX_MINUTES_PER_DAY", "0", "max_minutes_per_day"),
        ("LEGATO_REVENUE__FRAUD__CONTENT_SHARE_PERCENT", "0", "content_share_percent"),
        ("LEGATO_REVENUE__FRAUD__CONTENT_SHARE_PERCENT", "101", "content_share_percent"),
        ("LEGATO_REVENUE__FRAUD__CONTENT_SHARE_MIN_MINUTES", "-1", "content_share_min_minutes"),
        ("LEGATO_REVENUE__LICENSING__WRITER_PERCENT", "90", "licensing"),
    ],
)
def test_a_bad_value_is_refused_naming_its_key(variable: str, value: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={variable: value})
    assert caught.value.exit_status == 10
    assert key in caught.value.message
