"""Settings: ``config/default.yaml``, then a user file, then ``LEGATO_*`` environment variables.

Validated once on load; a bad value raises ``ConfigError`` naming its key (``revenue.content.
writer_percent``), so an operator never meets a half-loaded configuration at 3 a.m.

The merged, validated settings are kept in a small cache file between runs (keyed by the files'
identity and the ``LEGATO_*`` variables), so a command does not parse YAML on every start.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import json
import os
import tempfile
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from legato_pay.errors import ConfigError
from legato_pay.money import CURRENCY_EXPONENTS


def _default_config_path() -> Path:
    """The shipped defaults: inside the package when installed from a wheel (the build copies
    the repository's ``config/`` to ``legato_pay/defaults/``), else ``config/`` of the checkout
    (editable installs). A plain path rather than ``importlib.resources``: the package is never
    zipped, and the import costs every command a few milliseconds."""
    package_dir = Path(__file__).resolve().parent
    packaged = package_dir / "defaults" / "default.yaml"
    return packaged if packaged.is_file() else package_dir.parent / "config" / "default.yaml"


DEFAULT_CONFIG_PATH = _default_config_path()

#: Environment variables with a meaning of their own (not ``section__key`` overrides).
_RESERVED_ENV = {
    "LEGATO_CONFIG",
    "LEGATO_ACTOR",
    "LEGATO_HOME",
    "LEGATO_TEST_DATABASE_URL",
    "LEGATO_REQUIRE_POSTGRES",
    "LEGATO_OUTPUT",
    "LEGATO_ENCRYPTION_KEY",  # payout details at rest (legato_pay.payouts.vault), a secret
}
_ENV_ALIASES = {
    "LEGATO_DATABASE_URL": ("database", "url"),
    "LEGATO_ENABLE_MULTI_CURRENCY": ("features", "enable_multi_currency"),
    "LEGATO_ENABLE_AUTOMATIC_RELEASES": ("features", "enable_automatic_releases"),
    "LEGATO_ENABLE_DISPUTE_RESOLUTION": ("features", "enable_dispute_resolution"),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_currency(code: str) -> str:
    if code not in CURRENCY_EXPONENTS:
        raise ValueError(f"unknown currency {code!r}")
    return code


def _check_percent(value: Any) -> str:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal percentage") from None
    if not number.is_finite() or number < 0 or number > 100:
        raise ValueError(f"{value!r} must be between 0 and 100")
    return str(value)


class DatabaseSettings(_Strict):
    url: str | None = None
    sqlite_busy_timeout_ms: int = Field(30000, ge=0)
    max_retries: int = Field(20, ge=0)


class FeatureFlags(_Strict):
    enable_multi_currency: bool = True
    enable_automatic_releases: bool = False
    enable_dispute_resolution: bool = True


class CoinSettings(_Strict):
    value_minor: int = Field(1, gt=0)
    value_currency: str = "USD"
    spend_order: Literal["bonus_first", "paid_first"] = "bonus_first"
    bonus_rounding: Literal["floor"] = "floor"

    _currency = field_validator("value_currency")(_check_currency)


class PackageSettings(_Strict):
    id: str = Field(min_length=1)
    name: str
    coins: int = Field(gt=0)
    bonus_percent: str = "0"
    price_usd: int = Field(gt=0)
    prices: dict[str, int] = Field(default_factory=dict)

    _percent = field_validator("bonus_percent", mode="before")(_check_percent)


class ContentSettings(_Strict):
    default_prices: dict[Literal["chapter", "story", "exclusive"], int]
    refund_hold_days: int = Field(7, ge=0)


class TierSettings(_Strict):
    rank: int = Field(gt=0)
    prices: dict[str, int]


class SubscriptionSettings(_Strict):
    tiers: dict[str, TierSettings]
    period_days: int = Field(30, gt=0)


class SplitSettings(_Strict):
    writer_percent: str
    platform_percent: str

    _percent = field_validator("writer_percent", "platform_percent", mode="before")(_check_percent)

    @model_validator(mode="after")
    def _adds_to_100(self) -> SplitSettings:
        if Decimal(self.writer_percent) + Decimal(self.platform_percent) != 100:
            raise ValueError("writer_percent + platform_percent must equal 100")
        return self


class PoolSettings(_Strict):
    """What a subscription pool run does with a pool nobody engaged with."""

    no_engagement: Literal["carry", "platform"] = "carry"  # next period's pool | platform


class FraudSettings(_Strict):
    """Caps on implausible engagement (capped minutes are reported, never paid)."""

    max_minutes_per_day: int = Field(1440, ge=1, le=1440)  # one subscriber, one UTC day
    content_share_percent: str = "80"  # one content piece's share of a subscriber's minutes
    content_share_min_minutes: int = Field(600, ge=0)  # ... capped only past this many minutes

    _percent = field_validator("content_share_percent", mode="before")(_check_percent)

    @field_validator("content_share_percent")
    @classmethod
    def _positive(cls, value: str) -> str:
        if Decimal(value) <= 0:
            raise ValueError("content_share_percent must be greater than 0")
        return value


class RevenueSettings(_Strict):
    content: SplitSettings
    subscription: SplitSettings
    licensing: SplitSettings
    ads: SplitSettings
    tips: SplitSettings
    pool: PoolSettings = PoolSettings()
    fraud: FraudSettings = FraudSettings()


class RateSettings(_Strict):
    max_age_hours: int = Field(24, gt=0)
    provider_url: str | None = None


class GatewaySettings(_Strict):
    default: Literal["sandbox", "stripe", "paystack", "auto"] = "sandbox"
    by_currency: dict[str, Literal["sandbox", "stripe", "paystack"]] = Field(default_factory=dict)
    mode: Literal["test", "live"] = "test"
    timeout_seconds: float = Field(10, gt=0)
    max_retries: int = Field(2, ge=0)


class FeeTier(_Strict):
    """A payout fee band: ``fee`` (minor units) for a gross up to ``up_to`` inclusive (None:
    no upper bound)."""

    up_to: int | None = Field(None, gt=0)
    fee: int = Field(ge=0)


def _check_tiers(tiers: list[FeeTier]) -> list[FeeTier]:
    bounds = [tier.up_to for tier in tiers]
    if not tiers or bounds[-1] is not None or None in bounds[:-1]:
        raise ValueError("fee tiers need ascending up_to bounds and a last tier with up_to: null")
    bounded = [bound for bound in bounds if bound is not None]
    if any(a >= b for a, b in itertools.pairwise(bounded)):
        raise ValueError("fee tiers' up_to bounds must be ascending")
    return tiers


class PayoutSettings(_Strict):
    """Payout rules: minimum and approval threshold per currency (minor units), the lock on
    recently changed payout methods, and fee tiers per method type and currency."""

    minimum: dict[str, int] = Field(default_factory=dict)
    approval_threshold: dict[str, int] = Field(default_factory=dict)
    method_change_lock_days: int = Field(5, ge=0, le=3650)
    #: Distinct approvers' valid signatures a payout needing approval must gather.
    required_approvals: int = Field(1, ge=1, le=20)
    fees: dict[Literal["bank", "stripe", "sandbox"], dict[str, list[FeeTier]]] = Field(
        default_factory=dict
    )
    #: The Paystack integration requires an OTP for transfers: send one at a time (no bulk)
    #: and wait for ``payouts finalize ID --otp CODE``.
    paystack_transfer_otp: bool = False
    #: ``payouts verify`` without an id checks ``sending`` payouts sent this long ago.
    verify_after_minutes: int = Field(30, ge=0, le=10080)

    @field_validator("minimum", "approval_threshold")
    @classmethod
    def _amounts(cls, value: dict[str, int]) -> dict[str, int]:
        for code, amount in value.items():
            _check_currency(code)
            if amount < 0:
                raise ValueError(f"{code}: amounts cannot be negative")
        return value

    @field_validator("fees")
    @classmethod
    def _fee_tiers(
        cls, value: dict[str, dict[str, list[FeeTier]]]
    ) -> dict[str, dict[str, list[FeeTier]]]:
        for by_currency in value.values():
            for code, tiers in by_currency.items():
                _check_currency(code)
                _check_tiers(tiers)
        return value


class EscrowSettings(_Strict):
    release_threshold: dict[str, int] = Field(default_factory=dict)
    required_approvers: int = Field(2, ge=1)
    approval_ttl_hours: int = Field(72, ge=1)


class WithholdingRates(_Strict):
    """One country's withholding on writers' royalties: a percentage per payee type, multiplied
    for a payee without a TIN, the TIN's format, and the day of the next month remittance is
    due (Nigeria: 5 % individual, 10 % corporate, doubled without a TIN, due the 21st)."""

    individual: str = "0"
    corporate: str = "0"
    no_tin_multiplier: int = Field(1, ge=1, le=10)
    tin_pattern: str = r"[A-Za-z0-9-]{1,32}"
    remit_due_day: int = Field(21, ge=1, le=28)

    _percent = field_validator("individual", "corporate", mode="before")(_check_percent)

    @field_validator("tin_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        import re

        try:
            re.compile(value, re.ASCII)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _at_most_all(self) -> WithholdingRates:
        for payee_type in ("individual", "corporate"):
            if Decimal(getattr(self, payee_type)) * self.no_tin_multiplier > 100:
                raise ValueError(f"{payee_type} x no_tin_multiplier exceeds 100 %")
        return self


class TaxSettings(_Strict):
    """Withholding tables by ISO 3166 country code; a country not listed withholds 0 %.
    Amounts round half-up to the minor unit (``rounding``: the one documented rule)."""

    rounding: Literal["half_up"] = "half_up"
    withholding: dict[str, WithholdingRates] = Field(default_factory=dict)
    #: Who deducts the tax, as named on withholding-tax certificates (``tax certificate``).
    payer_name: str = Field("Legato", min_length=1, max_length=200)
    payer_tin: str | None = Field(None, min_length=1, max_length=32)

    @field_validator("payer_name", "payer_tin")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or not value.isprintable()):
            raise ValueError("must be printable text, not blank")
        return value

    @field_validator("withholding")
    @classmethod
    def _countries(cls, value: dict[str, WithholdingRates]) -> dict[str, WithholdingRates]:
        import re

        for country in value:
            if not re.fullmatch(r"[A-Z]{2}", country, flags=re.ASCII):
                raise ValueError(f"{country!r} is not an ISO 3166 alpha-2 country code (NG)")
        return value


class WebhookRateLimitSettings(_Strict):
    """Refused requests (bad signature, too large, unknown endpoint) per source address:
    ``max_refusals`` per ``window_seconds``, then 429 with Retry-After. Valid events are never
    limited."""

    enabled: bool = True
    max_refusals: int = Field(20, ge=1, le=1_000_000)
    window_seconds: float = Field(60, gt=0, le=86_400)


class WebhookSettings(_Strict):
    max_body_bytes: int = Field(1_048_576, gt=0)
    stripe_tolerance_seconds: int = Field(300, gt=0)
    graceful_shutdown_seconds: int = Field(30, ge=0)
    max_batch_events: int = Field(200, ge=1, le=5000)
    concurrent_batches: int = Field(1, ge=1, le=32)
    batch_linger_ms: float = Field(5.0, ge=0, le=1000)
    rate_limit: WebhookRateLimitSettings = WebhookRateLimitSettings()


class LedgerSettings(_Strict):
    seal_batch_size: int = Field(50000, gt=0)


class ReportSettings(_Strict):
    #: ``reports coins``: wallets with no movement for this many days count as breakage.
    breakage_inactive_days: int = Field(365, ge=1, le=36500)


class HealthSettings(_Strict):
    """``legato-pay health`` thresholds and caches (``/readyz?deep=1`` and ``/metrics`` too)."""

    gateways: list[Literal["sandbox", "stripe", "paystack"]] | None = None  # None: as configured
    gateway_cache_seconds: int = Field(60, ge=1, le=86_400)
    inbox_max_age_seconds: int = Field(900, ge=1)
    inbox_max_failed: int = Field(0, ge=0)
    seal_max_age_hours: int = Field(48, ge=1)
    verify_max_age_hours: int = Field(168, ge=1)
    metrics_cache_seconds: int = Field(30, ge=1, le=3600)
    metrics_window_hours: int = Field(24, ge=1, le=24 * 366)


class Settings(_Strict):
    database: DatabaseSettings = DatabaseSettings()
    base_currency: str = "USD"
    currencies: list[str]
    features: FeatureFlags = FeatureFlags()
    coins: CoinSettings = CoinSettings()
    packages: list[PackageSettings]
    content: ContentSettings
    subscriptions: SubscriptionSettings
    revenue: RevenueSettings
    rates: RateSettings = RateSettings()
    gateways: GatewaySettings = GatewaySettings()
    payouts: PayoutSettings = PayoutSettings()
    escrow: EscrowSettings = EscrowSettings()
    tax: TaxSettings = TaxSettings()
    ledger: LedgerSettings = LedgerSettings()
    reports: ReportSettings = ReportSettings()
    webhooks: WebhookSettings = WebhookSettings()
    health: HealthSettings = HealthSettings()

    _base = field_validator("base_currency")(_check_currency)

    @field_validator("currencies")
    @classmethod
    def _known_currencies(cls, value: list[str]) -> list[str]:
        for code in value:
            _check_currency(code)
        return value


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@functools.lru_cache(maxsize=8)
def _read_yaml_cached(path: Path, mtime_ns: int) -> dict[str, Any]:
    return _read_yaml(path)


def _read_defaults() -> dict[str, Any]:
    """The defaults, parsed once per process (a deep copy each time: callers merge into it)."""
    return copy.deepcopy(
        _read_yaml_cached(DEFAULT_CONFIG_PATH, DEFAULT_CONFIG_PATH.stat().st_mtime_ns)
    )


#: A config file is a page of YAML; anything bigger is the wrong file (or /dev/zero).
_MAX_CONFIG_BYTES = 1 << 20


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml  # here, not at the top: a start-up served by the settings cache never parses YAML

    try:
        with path.open("rb") as file:
            raw = file.read(_MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {path}: {exc.strerror}", details={"path": str(path)}
        ) from None
    if len(raw) > _MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path} is larger than {_MAX_CONFIG_BYTES} bytes: not a config file",
            details={"path": str(path)},
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text", details={"path": str(path)}) from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}", details={"path": str(path)}) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path} must hold a mapping at the top level", details={"path": str(path)}
        )
    return data


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    import yaml

    overrides: dict[str, Any] = {}
    set_by: dict[tuple[str, ...], str] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith("LEGATO_") or name in _RESERVED_ENV:
            continue
        path = _ENV_ALIASES.get(name) or tuple(
            part.lower() for part in name[len("LEGATO_") :].split("__")
        )
        try:
            value = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            value = raw
        if path[-1] == "url" and value is not None:
            value = raw
        _set_override(overrides, path, value, name, set_by)
    return overrides


def _set_override(
    overrides: dict[str, Any],
    path: tuple[str, ...],
    value: Any,
    name: str,
    set_by: dict[tuple[str, ...], str],
) -> None:
    """Put one variable's value at its place; a variable setting a whole section beside one
    setting a key inside it (``LEGATO_COINS`` and ``LEGATO_COINS__SPEND_ORDER``) is refused,
    naming both, rather than guessing which wins."""
    for depth in range(1, len(path) + 1):
        clash = set_by.get(path[:depth])
        if clash is None and depth == len(path):
            clash = next((other for key, other in set_by.items() if key[: len(path)] == path), None)
        if clash is not None:
            raise ConfigError(
                f"{clash} and {name} both set {'.'.join(path[:depth])}: keep one",
                details={"key": ".".join(path[:depth]), "variables": [clash, name]},
            )
    set_by[path] = name
    node = overrides
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    *,
    environ: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Defaults, then the user file (argument or ``LEGATO_CONFIG``), then the environment.

    Without ``overrides`` the result comes from the settings cache when nothing it was built
    from has changed; an invalid configuration is never cached, so its error shows every time.
    """
    env = dict(os.environ if environ is None else environ)
    user_file = config_file or env.get("LEGATO_CONFIG")
    if overrides:
        return _validate(_merge_sources(user_file, env, overrides))
    key = _cache_key(user_file, env)
    cache = _cache_file(env)
    settings = _read_cache(cache, key) if key else None
    if settings is None:
        settings = _validate(_merge_sources(user_file, env, None))
        if key:
            _write_cache(cache, key, settings)
    return settings


def _merge_sources(
    user_file: str | os.PathLike[str] | None,
    env: dict[str, str],
    overrides: dict[str, Any] | None,
) -> dict[str, Any]:
    data = _read_defaults()
    if user_file:
        data = _deep_merge(data, _read_yaml(Path(user_file)))
    data = _deep_merge(data, _env_overrides(env))
    data = _escrow_threshold_alias(data, env)
    if overrides:
        data = _deep_merge(data, overrides)
    return data


#: ``ESCROW_RELEASE_THRESHOLD`` (the seed's name, no ``LEGATO_`` prefix): the escrow release
#: threshold in MAJOR units of the base currency (``10000`` with base USD = USD 10,000.00); it
#: replaces ``escrow.release_threshold[<base currency>]``, other currencies keep theirs.
ESCROW_THRESHOLD_ENV = "ESCROW_RELEASE_THRESHOLD"


def _escrow_threshold_alias(data: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    raw = env.get(ESCROW_THRESHOLD_ENV)
    if raw is None or raw.strip() == "":
        return data
    from legato_pay.errors import InvalidInput
    from legato_pay.money import parse_amount

    base = data.get("base_currency", "USD")
    try:
        minor = parse_amount(raw.strip(), str(base))
    except (InvalidInput, ValueError, TypeError):
        raise ConfigError(
            f"{ESCROW_THRESHOLD_ENV}={raw[:40]!r} is not an amount in major units of {base} "
            "(e.g. 10000 or 10000.50)",
            details={"key": "escrow.release_threshold", "variable": ESCROW_THRESHOLD_ENV},
        ) from None
    escrow = dict(data.get("escrow") or {})
    thresholds = dict(escrow.get("release_threshold") or {})
    thresholds[str(base)] = minor
    escrow["release_threshold"] = thresholds
    return data | {"escrow": escrow}


def _validate(data: dict[str, Any]) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        problems = [
            {"key": ".".join(str(p) for p in err["loc"]), "problem": err["msg"]}
            for err in exc.errors()
        ]
        raise ConfigError(
            f"invalid configuration at {key}: {first['msg']}",
            details={"key": key, "problems": problems},
        ) from None


# The settings cache: one file holding the key on its first line and the validated settings as
# JSON after it. The key hashes the bytes of the files the settings come from (the defaults, the
# user file, this module) and the LEGATO_* variables: a file edited or replaced, a variable
# changed, the code upgraded is a miss and rewrites the file. Contents rather than modification
# times, because two edits within one clock tick keep the same time; reading and hashing a few
# kilobytes costs microseconds, parsing them as YAML milliseconds. A hit is validated again (a
# fraction of a millisecond), so a cache written by other code can never hand back settings this
# code would refuse. The file may hold a database URL with its password: owner-only access.

_CACHE_FORMAT = "legato-pay settings cache 1"


def _file_digest(path: str | os.PathLike[str]) -> str | None:
    try:
        with open(path, "rb") as file:
            content = file.read(_MAX_CONFIG_BYTES + 1)
    except OSError:
        return None
    if len(content) > _MAX_CONFIG_BYTES:
        return None  # no caching: the full load refuses the file and says why
    return hashlib.sha256(content).hexdigest()


def _cache_key(user_file: str | os.PathLike[str] | None, env: dict[str, str]) -> str | None:
    """What the settings were built from, hashed; None when a file cannot be read (no caching:
    the full load then reports the problem)."""
    sources = [DEFAULT_CONFIG_PATH, __file__, *([user_file] if user_file else [])]
    digests = [_file_digest(path) for path in sources]
    if None in digests:
        return None
    variables = sorted(
        (name, value)
        for name, value in env.items()
        if (name.startswith("LEGATO_") and name not in _RESERVED_ENV)
        or name == ESCROW_THRESHOLD_ENV
    )
    material = json.dumps([_CACHE_FORMAT, digests, variables])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _cache_file(environ: dict[str, str]) -> Path:
    """``$LEGATO_HOME/cache/settings.json``, else ``$XDG_CACHE_HOME/legato-pay/settings.json``
    (default ``~/.cache``)."""
    if environ.get("LEGATO_HOME"):
        return Path(environ["LEGATO_HOME"]) / "cache" / "settings.json"
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "legato-pay" / "settings.json"


def _read_cache(path: Path, key: str) -> Settings | None:
    try:
        with path.open(encoding="utf-8") as file:
            if not _owned_by_us(file.fileno()) or file.readline().rstrip("\n") != key:
                return None
            document = file.read()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        return Settings.model_validate_json(document)
    except ValidationError:
        return None


def _owned_by_us(descriptor: int) -> bool:
    """A cache file someone else wrote (a shared ``LEGATO_HOME``) is not trusted."""
    return not hasattr(os, "getuid") or os.fstat(descriptor).st_uid == os.getuid()


def _write_cache(path: Path, key: str, settings: Settings) -> None:
    """Replace the cache file atomically; a cache that cannot be written is simply not kept."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".settings-")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(key + "\n" + settings.model_dump_json())
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        return


def default_data_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("LEGATO_HOME"):
        return Path(env["LEGATO_HOME"])
    xdg = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "legato-pay"


def default_database_url(environ: dict[str, str] | None = None) -> str:
    """The embedded SQLite file: ``$LEGATO_HOME/legato-pay.db`` (default ~/.local/share/legato-pay)."""
    return f"sqlite:///{default_data_dir(environ) / 'legato-pay.db'}"
