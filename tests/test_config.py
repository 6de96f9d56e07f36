"""Settings: defaults, a user file, LEGATO_* overrides, and errors that name the bad key."""

from __future__ import annotations

import os
from pathlib import Path

import pydantic
import pytest

from legato_pay import config
from legato_pay.config import (
    DEFAULT_CONFIG_PATH,
    default_data_dir,
    default_database_url,
    load_settings,
)
from legato_pay.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "legato.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(**kwargs: object) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(**kwargs)  # type: ignore[arg-type]
    assert caught.value.code == "CONFIG_ERROR"
    assert caught.value.exit_status == 10
    return caught.value


def test_defaults_load_from_the_shipped_file() -> None:
    assert DEFAULT_CONFIG_PATH.is_file()
    settings = load_settings(environ={})
    assert settings.base_currency == "USD"
    assert settings.currencies == ["USD", "NGN", "CAD"]
    assert settings.database.url is None
    assert settings.features.enable_multi_currency is True
    assert settings.features.enable_automatic_releases is False
    assert settings.revenue.content.writer_percent == "70"
    assert settings.revenue.content.platform_percent == "30"
    assert settings.coins.value_minor == 1
    assert settings.coins.spend_order == "bonus_first"
    assert [p.id for p in settings.packages] == [
        "starter",
        "basic",
        "popular",
        "premium",
        "ultimate",
    ]
    assert settings.packages[0].prices["NGN"] == 150000
    assert settings.content.default_prices["chapter"] == 10
    assert settings.subscriptions.tiers["vip"].rank == 3
    assert settings.gateways.by_currency["NGN"] == "paystack"
    assert settings.ledger.seal_batch_size == 50000


def test_settings_are_frozen() -> None:
    settings = load_settings(environ={})
    with pytest.raises(pydantic.ValidationError):
        settings.base_currency = "NGN"  # type: ignore[misc]


def test_user_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
revenue:
  content: {writer_percent: "80", platform_percent: "20"}
features:
  enable_automatic_releases: true
coins:
  spend_order: paid_first
""",
    )
    settings = load_settings(path, environ={})
    assert settings.revenue.content.writer_percent == "80"
    assert settings.revenue.content.platform_percent == "20"
    assert settings.revenue.tips.writer_percent == "70"  # untouched sibling
    assert settings.features.enable_automatic_releases is True
    assert settings.features.enable_multi_currency is True  # deep merge keeps the rest
    assert settings.coins.spend_order == "paid_first"
    assert settings.coins.value_currency == "USD"


def test_legato_config_environment_variable_names_the_user_file(tmp_path: Path) -> None:
    path = write(tmp_path, "base_currency: NGN\n")
    assert load_settings(environ={"LEGATO_CONFIG": str(path)}).base_currency == "NGN"


def test_empty_user_file_changes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing here\n")
    assert load_settings(path, environ={}) == load_settings(environ={})


def test_environment_overrides_by_section_and_key() -> None:
    settings = load_settings(
        environ={
            "LEGATO_REVENUE__CONTENT__WRITER_PERCENT": "75",
            "LEGATO_REVENUE__CONTENT__PLATFORM_PERCENT": "25",
            "LEGATO_FEATURES__ENABLE_MULTI_CURRENCY": "false",
            "LEGATO_DATABASE__MAX_RETRIES": "3",
            "LEGATO_GATEWAYS__DEFAULT": "paystack",
            "LEGATO_BASE_CURRENCY": "CAD",
            "LEGATO_PAYOUTS__MINIMUM": "{USD: 500}",
        }
    )
    assert settings.revenue.content.writer_percent == "75"
    assert settings.revenue.content.platform_percent == "25"
    assert settings.features.enable_multi_currency is False
    assert settings.database.max_retries == 3
    assert settings.gateways.default == "paystack"
    assert settings.base_currency == "CAD"
    # a mapping merges into the default one, key by key
    assert settings.payouts.minimum == {"USD": 500, "NGN": 500000, "CAD": 1000}


def test_environment_aliases() -> None:
    settings = load_settings(
        environ={
            "LEGATO_ENABLE_MULTI_CURRENCY": "false",
            "LEGATO_ENABLE_DISPUTE_RESOLUTION": "no",
            "LEGATO_ENABLE_AUTOMATIC_RELEASES": "true",
            "LEGATO_DATABASE_URL": "postgresql+psycopg://u@h:5432/db?sslmode=require",
        }
    )
    assert settings.features.enable_multi_currency is False
    assert settings.features.enable_dispute_resolution is False
    assert settings.features.enable_automatic_releases is True
    # a URL is kept verbatim, never parsed as YAML
    assert settings.database.url == "postgresql+psycopg://u@h:5432/db?sslmode=require"


def test_environment_beats_the_user_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'revenue: {tips: {writer_percent: "80", platform_percent: "20"}}\n')
    settings = load_settings(
        path,
        environ={
            "LEGATO_REVENUE__TIPS__WRITER_PERCENT": "90",
            "LEGATO_REVENUE__TIPS__PLATFORM_PERCENT": "10",
        },
    )
    assert settings.revenue.tips.writer_percent == "90"


def test_explicit_overrides_come_last() -> None:
    settings = load_settings(
        environ={"LEGATO_LEDGER__SEAL_BATCH_SIZE": "10"},
        overrides={"ledger": {"seal_batch_size": 20}},
    )
    assert settings.ledger.seal_batch_size == 20


def test_reserved_environment_variables_are_not_settings(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "LEGATO_ACTOR": "ops:alice",
            "LEGATO_OUTPUT": "json",
            "LEGATO_HOME": str(tmp_path),
            "LEGATO_TEST_DATABASE_URL": "postgresql+psycopg://x@y/z",
            "LEGATO_REQUIRE_POSTGRES": "1",  # set by .ci/run for the whole test session
            "OTHER_VARIABLE": "1",
        }
    )
    assert settings == load_settings(environ={})


def test_empty_environment_value_means_null() -> None:
    settings = load_settings(environ={"LEGATO_RATES__PROVIDER_URL": ""})
    assert settings.rates.provider_url is None


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"LEGATO_REVENUE__CONTENT__WRITER_PERCENT": "abc"}, "revenue.content.writer_percent"),
        ({"LEGATO_REVENUE__ADS__PLATFORM_PERCENT": "101"}, "revenue.ads.platform_percent"),
        ({"LEGATO_DATABASE__MAX_RETRIES": "-1"}, "database.max_retries"),
        ({"LEGATO_DATABASE__SQLITE_BUSY_TIMEOUT_MS": "soon"}, "database.sqlite_busy_timeout_ms"),
        ({"LEGATO_COINS__VALUE_CURRENCY": "XYZ"}, "coins.value_currency"),
        ({"LEGATO_COINS__VALUE_MINOR": "0"}, "coins.value_minor"),
        ({"LEGATO_COINS__SPEND_ORDER": "random"}, "coins.spend_order"),
        ({"LEGATO_GATEWAYS__DEFAULT": "paypal"}, "gateways.default"),
        ({"LEGATO_GATEWAYS__TIMEOUT_SECONDS": "0"}, "gateways.timeout_seconds"),
        ({"LEGATO_BASE_CURRENCY": "XYZ"}, "base_currency"),
        ({"LEGATO_ESCROW__REQUIRED_APPROVERS": "0"}, "escrow.required_approvers"),
        ({"LEGATO_LEDGER__SEAL_BATCH_SIZE": "0"}, "ledger.seal_batch_size"),
        # writer + platform must add up to 100: the split as a whole is named
        ({"LEGATO_REVENUE__CONTENT__WRITER_PERCENT": "80"}, "revenue.content"),
    ],
)
def test_bad_values_name_their_key(environ: dict[str, str], key: str) -> None:
    error = config_error(environ=environ)
    assert error.details["key"] == key
    assert key in error.message
    assert error.details["problems"][0]["key"] == key


def test_bad_values_in_a_file_name_their_key(tmp_path: Path) -> None:
    path = write(tmp_path, "currencies: [USD, XYZ]\n")
    assert config_error(config_file=path, environ={}).details["key"] == "currencies"
    path = write(tmp_path, "packages:\n  - {id: x, name: X, coins: 0, price_usd: 99}\n")
    assert config_error(config_file=path, environ={}).details["key"] == "packages.0.coins"


def test_every_problem_is_listed(tmp_path: Path) -> None:
    error = config_error(
        environ={"LEGATO_DATABASE__MAX_RETRIES": "-1", "LEGATO_LEDGER__SEAL_BATCH_SIZE": "0"}
    )
    keys = {problem["key"] for problem in error.details["problems"]}
    assert keys == {"database.max_retries", "ledger.seal_batch_size"}


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"LEGATO_BOGUS": "1"}, "bogus"),
        ({"LEGATO_FEATURES__ENABLE_TELEPORT": "true"}, "features.enable_teleport"),
        ({"LEGATO_REVENUE__MERCH__WRITER_PERCENT": "50"}, "revenue.merch"),
    ],
)
def test_unknown_environment_keys_are_rejected(environ: dict[str, str], key: str) -> None:
    assert config_error(environ=environ).details["key"] == key


def test_unknown_file_keys_are_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway: {default: stripe}\n")  # typo for "gateways"
    assert config_error(config_file=path, environ={}).details["key"] == "gateway"
    path = write(tmp_path, "webhooks: {max_body: 10}\n")
    assert config_error(config_file=path, environ={}).details["key"] == "webhooks.max_body"


def test_bad_yaml_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "revenue: [unclosed\n  content: {\n")
    error = config_error(config_file=path, environ={})
    assert error.details["path"] == str(path)
    assert "not valid YAML" in error.message


def test_a_file_must_hold_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- just\n- a list\n")
    error = config_error(config_file=path, environ={})
    assert error.details["path"] == str(path)
    assert "mapping" in error.message


def test_a_binary_or_endless_file_is_a_config_error(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    assert "not UTF-8" in config_error(config_file=binary, environ={}).message
    endless = config_error(config_file="/dev/zero", environ={})  # read with a bound, not to OOM
    assert endless.details["path"] == "/dev/zero"
    assert "larger than" in endless.message


def test_a_section_and_a_key_inside_it_from_two_variables_is_refused() -> None:
    error = config_error(environ={"LEGATO_COINS": "5", "LEGATO_COINS__SPEND_ORDER": "paid_first"})
    assert error.details["variables"] == ["LEGATO_COINS", "LEGATO_COINS__SPEND_ORDER"]
    assert error.details["key"] == "coins"


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert config_error(config_file=missing, environ={}).details["path"] == str(missing)


def test_default_database_url_follows_legato_home(tmp_path: Path) -> None:
    assert default_data_dir({"LEGATO_HOME": str(tmp_path)}) == tmp_path
    assert default_database_url({"LEGATO_HOME": str(tmp_path)}) == (
        f"sqlite:///{tmp_path / 'legato-pay.db'}"
    )
    xdg = tmp_path / "xdg"
    assert default_data_dir({"XDG_DATA_HOME": str(xdg)}) == xdg / "legato-pay"


# --- the settings cache ------------------------------------------------------------------------


def cached_home(tmp_path: Path, **variables: str) -> dict[str, str]:
    return {"LEGATO_HOME": str(tmp_path / "home"), **variables}


def no_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, a load that parses a file fails: only a cache hit can answer."""

    def refuse(path: Path) -> dict[str, object]:
        raise AssertionError(f"parsed {path}: the settings cache was not used")

    monkeypatch.setattr(config, "_read_yaml", refuse)
    monkeypatch.setattr(config, "_read_yaml_cached", refuse)


def test_the_next_load_comes_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, 'base_currency: "NGN"\n')
    env = cached_home(tmp_path, LEGATO_DATABASE__MAX_RETRIES="3")
    first = load_settings(path, environ=env)
    cache = tmp_path / "home" / "cache" / "settings.json"
    assert cache.stat().st_mode & 0o777 == 0o600  # it may hold a database password
    no_yaml(monkeypatch)
    # reserved variables are not settings: changing them keeps the cache
    again = load_settings(path, environ={**env, "LEGATO_ACTOR": "someone else"})
    assert again == first
    assert again.base_currency == "NGN" and again.database.max_retries == 3


def test_an_edited_config_file_is_seen_by_the_next_load(tmp_path: Path) -> None:
    env = cached_home(tmp_path)
    path = write(tmp_path, 'revenue: {tips: {writer_percent: "80", platform_percent: "20"}}\n')
    assert load_settings(path, environ=env).revenue.tips.writer_percent == "80"
    # same size, and (written at once) most likely the same modification time
    write(tmp_path, 'revenue: {tips: {writer_percent: "60", platform_percent: "40"}}\n')
    assert load_settings(path, environ=env).revenue.tips.writer_percent == "60"
    other = write(tmp_path, "base_currency: CAD\n", name="other.yaml")
    assert load_settings(environ={**env, "LEGATO_CONFIG": str(other)}).base_currency == "CAD"
    assert load_settings(environ=env).base_currency == "USD"


def test_a_changed_legato_variable_is_seen_by_the_next_load(tmp_path: Path) -> None:
    assert load_settings(environ=cached_home(tmp_path)).database.max_retries == 20
    changed = cached_home(tmp_path, LEGATO_DATABASE__MAX_RETRIES="4")
    assert load_settings(environ=changed).database.max_retries == 4
    changed["LEGATO_DATABASE__MAX_RETRIES"] = "5"
    assert load_settings(environ=changed).database.max_retries == 5
    assert load_settings(environ=cached_home(tmp_path)).database.max_retries == 20


def test_an_invalid_configuration_is_never_cached(tmp_path: Path) -> None:
    env = cached_home(tmp_path, LEGATO_DATABASE__MAX_RETRIES="-1")
    for _ in range(2):
        assert config_error(environ=env).details["key"] == "database.max_retries"
    assert not (tmp_path / "home" / "cache" / "settings.json").exists()


def test_a_damaged_or_stale_cache_is_rebuilt(tmp_path: Path) -> None:
    env = cached_home(tmp_path)
    expected = load_settings(environ={})
    cache = tmp_path / "home" / "cache" / "settings.json"
    key = config._cache_key(None, env)
    assert key is not None
    for text in (
        "not a cache",
        key + "\n{not json",
        key + '\n{"base_currency": "XYZ"}',  # right key, content the code refuses
        "\xff\xfe",
    ):
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(text, encoding="latin-1")
        assert load_settings(environ=env) == expected
        assert cache.read_text(encoding="utf-8").startswith(key + "\n")


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    blocker = tmp_path / "home"
    blocker.write_text("a file where the cache directory would go", encoding="utf-8")
    assert load_settings(environ={"LEGATO_HOME": str(blocker)}).base_currency == "USD"


def test_explicit_overrides_bypass_the_cache(tmp_path: Path) -> None:
    env = cached_home(tmp_path)
    load_settings(environ=env)
    overridden = load_settings(environ=env, overrides={"base_currency": "NGN"})
    assert overridden.base_currency == "NGN"
    assert load_settings(environ=env).base_currency == "USD"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_a_cache_written_by_someone_else_is_not_trusted(tmp_path: Path) -> None:
    env = cached_home(tmp_path)
    load_settings(environ=env)
    cache = tmp_path / "home" / "cache" / "settings.json"
    key, _, _ = cache.read_text(encoding="utf-8").partition("\n")
    cache.write_text(key + '\n{"base_currency": "NGN"}', encoding="utf-8")  # would validate
    os.chown(cache, 65534, 65534)
    assert load_settings(environ=env).base_currency == "USD"
    assert cache.stat().st_uid == os.getuid()  # replaced by our own
