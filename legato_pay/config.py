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
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from legato_pay.config_schema import (
    CoinSettings as CoinSettings,
)
from legato_pay.config_schema import (
    ContentSettings as ContentSettings,
)
from legato_pay.config_schema import (  # the schema, re-exported: callers import it from here
    DatabaseSettings as DatabaseSettings,
)
from legato_pay.config_schema import (
    EscrowSettings as EscrowSettings,
)
from legato_pay.config_schema import (
    FeatureFlags as FeatureFlags,
)
from legato_pay.config_schema import (
    FeeTier as FeeTier,
)
from legato_pay.config_schema import (
    FraudSettings as FraudSettings,
)
from legato_pay.config_schema import (
    GatewaySettings as GatewaySettings,
)
from legato_pay.config_schema import (
    HealthSettings as HealthSettings,
)
from legato_pay.config_schema import (
    LedgerSettings as LedgerSettings,
)
from legato_pay.config_schema import (
    PackageSettings as PackageSettings,
)
from legato_pay.config_schema import (
    PayoutSettings as PayoutSettings,
)
from legato_pay.config_schema import (
    PoolSettings as PoolSettings,
)
from legato_pay.config_schema import (
    RateSettings as RateSettings,
)
from legato_pay.config_schema import (
    ReportSettings as ReportSettings,
)
from legato_pay.config_schema import (
    RevenueSettings as RevenueSettings,
)
from legato_pay.config_schema import (
    Settings as Settings,
)
from legato_pay.config_schema import (
    SplitSettings as SplitSettings,
)
from legato_pay.config_schema import (
    SubscriptionSettings as SubscriptionSettings,
)
from legato_pay.config_schema import (
    TaxSettings as TaxSettings,
)
from legato_pay.config_schema import (
    TierSettings as TierSettings,
)
from legato_pay.config_schema import (
    WebhookRateLimitSettings as WebhookRateLimitSettings,
)
from legato_pay.config_schema import (
    WebhookSettings as WebhookSettings,
)
from legato_pay.config_schema import (
    WithholdingRates as WithholdingRates,
)
from legato_pay.errors import ConfigError


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
