"""Ledger account codes as accounting-tool account names (beancount and hledger alike).

Each family of the chart (``legato_pay.chart._RULES``) maps to one of the five roots by what it
means to the platform, and to a fixed name with its variable parts (user, writer, investor, app,
gateway, stream, deposit ids) escaped:

=================================== ============ ===============================================
code                                root         name
=================================== ============ ===============================================
``gateway:<g>:<CUR>``               Assets       ``Assets:Gateway:<G>:<CUR>``
``platform:receipts:<s>:<CUR>``     Assets       ``Assets:Receipts:<S>:<CUR>``
``platform:cash:tax:<CUR>``         Assets       ``Assets:Cash:Tax:<CUR>``
``user:<u>:coins:paid|bonus``       Liabilities  ``Liabilities:Coins:<U>:Paid|Bonus`` (COIN)
``platform:coin_sales:<CUR>``       Liabilities  ``Liabilities:CoinSales:<CUR>``
``platform:coin_value:<CUR>``       Liabilities  ``Liabilities:CoinValue:<CUR>``
``writer:<w>:earnings:<CUR>``       Liabilities  ``Liabilities:Writers:<W>:Earnings:<CUR>``
``investor:<i>:earnings:<CUR>``     Liabilities  ``Liabilities:Investors:<I>:Earnings:<CUR>``
``subscriptions:pool:<P>:<CUR>``    Liabilities  ``Liabilities:SubscriptionPools:<P>:<CUR>``
``app:<a>:funds:<CUR>``             Liabilities  ``Liabilities:Apps:<A>:Funds:<CUR>``
``tax:withholding:<CC>:<CUR>``      Liabilities  ``Liabilities:TaxWithholding:<CC>:<CUR>``
``payouts:in_flight:<CUR>``         Liabilities  ``Liabilities:PayoutsInFlight:<CUR>``
``escrow:<deal>:<CUR>``             Liabilities  ``Liabilities:Escrow:<DEAL>:<CUR>``
``platform:revenue:<s>:<CUR>``      Income       ``Income:Revenue:<S>:<CUR>``
``platform:refund_losses:<CUR>``    Expenses     ``Expenses:RefundLosses:<CUR>``
``platform:coins:issuance``         Equity       ``Equity:Coins:Issuance`` (COIN)
``platform:coins:redeemed``         Equity       ``Equity:Coins:Redeemed`` (COIN)
``world:<CUR>``                     Equity       ``Equity:World:<CUR>``
``platform:fx:<CUR>``               Equity       ``Equity:FxConversion:<CUR>``
anything else (operator-opened)     by side      ``Assets:Other:<CODE>`` (debit-normal) or
                                                 ``Liabilities:Other:<CODE>`` (credit-normal),
                                                 the whole code as one escaped component
=================================== ============ ===============================================

Escaping a variable part (``component``) keeps names valid and unique: lower-case letters and
digits, in runs joined by single hyphens, are capitalised (``alice`` → ``Alice``,
``demo-reader-1`` → ``Demo-reader-1``, ``42`` → ``42``); two or more capitals and digits stay
(``USD``, ``NG``); anything else becomes its letters and digits (other runs become ``-``), then
``--`` and ten hex digits of its SHA-256 (``Alice B`` → ``Alice-B--4f1c…``). Only the third shape
holds ``--`` and only the second starts with two capitals, so distinct codes give distinct
names; the original
code is written beside every ``open`` directive. Every family has a fixed depth and its own
second component, and a code outside them is one component, so no name is the parent of another
(a parent's balance assertion would count its children's postings too).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

ROOTS = ("Assets", "Liabilities", "Equity", "Income", "Expenses")

_LOWER = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*", re.ASCII)
_UPPER = re.compile(r"[A-Z][A-Z][A-Z0-9]*", re.ASCII)
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+", re.ASCII)
#: How much of an escaped part's own text is kept before its hash (names stay readable).
_KEPT = 40


@dataclass(frozen=True, slots=True)
class BookAccount:
    """An account as the books name it: ``root`` is one of ``ROOTS``."""

    name: str
    root: str


def component(part: str) -> str:
    """One valid, injective account-name component for any text (see the module docstring)."""
    if _LOWER.fullmatch(part):
        return part[0].upper() + part[1:]
    if _UPPER.fullmatch(part):
        return part
    kept = _NOT_ALNUM.sub("-", part).strip("-")[:_KEPT].rstrip("-")
    digest = hashlib.sha256(part.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    if not kept:
        return f"X--{digest}"
    return f"{kept[0].upper()}{kept[1:]}--{digest}"


_CUR = r"(?P<cur>[A-Z]{3}|COIN)"


def _rule(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII)


Namer = Callable[[re.Match[str]], BookAccount]


def _named(root: str, *parts: str) -> Namer:
    """A namer: fixed parts as written, ``{group}`` parts from the match, escaped."""

    def name(match: re.Match[str]) -> BookAccount:
        rendered = [
            component(match.group(part[1:-1])) if part.startswith("{") else part for part in parts
        ]
        return BookAccount(":".join((root, *rendered)), root)

    return name


#: Each family of the chart (same patterns as ``chart._RULES``), and its name in the books.
BOOK_RULES: tuple[tuple[re.Pattern[str], Namer], ...] = (
    (
        _rule(r"user:(?P<user>.+):coins:(?P<bucket>paid|bonus)"),
        _named("Liabilities", "Coins", "{user}", "{bucket}"),
    ),
    (
        _rule(r"platform:coins:(issuance|redeemed)"),
        lambda m: BookAccount(f"Equity:Coins:{m.group(1).capitalize()}", "Equity"),
    ),
    (
        _rule(rf"gateway:(?P<gateway>[^:]+):{_CUR}"),
        _named("Assets", "Gateway", "{gateway}", "{cur}"),
    ),
    (
        _rule(rf"platform:(coin_sales|coin_value):{_CUR}"),
        lambda m: BookAccount(
            f"Liabilities:{'CoinSales' if m.group(1) == 'coin_sales' else 'CoinValue'}:"
            + m.group("cur"),
            "Liabilities",
        ),
    ),
    (
        _rule(rf"writer:(?P<writer>.+):earnings:{_CUR}"),
        _named("Liabilities", "Writers", "{writer}", "Earnings", "{cur}"),
    ),
    (
        _rule(rf"platform:revenue:(?P<stream>[^:]+):{_CUR}"),
        _named("Income", "Revenue", "{stream}", "{cur}"),
    ),
    (
        _rule(rf"platform:receipts:(?P<stream>licensing|ads):{_CUR}"),
        _named("Assets", "Receipts", "{stream}", "{cur}"),
    ),
    (
        _rule(rf"platform:refund_losses:{_CUR}"),
        _named("Expenses", "RefundLosses", "{cur}"),
    ),
    (
        _rule(rf"subscriptions:pool:(?P<period>[0-9]{{4}}-[0-9]{{2}}):{_CUR}"),
        lambda m: BookAccount(
            f"Liabilities:SubscriptionPools:{m.group('period')}:{m.group('cur')}", "Liabilities"
        ),
    ),
    (
        _rule(rf"investor:(?P<investor>.+):earnings:{_CUR}"),
        _named("Liabilities", "Investors", "{investor}", "Earnings", "{cur}"),
    ),
    (
        _rule(rf"app:(?P<app>[^:]+):funds:{_CUR}"),
        _named("Liabilities", "Apps", "{app}", "Funds", "{cur}"),
    ),
    (
        _rule(rf"tax:withholding:(?P<country>[A-Z]{{2}}):{_CUR}"),
        _named("Liabilities", "TaxWithholding", "{country}", "{cur}"),
    ),
    (
        _rule(rf"platform:cash:tax:{_CUR}"),
        _named("Assets", "Cash", "Tax", "{cur}"),
    ),
    (
        _rule(rf"payouts:in_flight:{_CUR}"),
        _named("Liabilities", "PayoutsInFlight", "{cur}"),
    ),
    (
        _rule(rf"world:{_CUR}"),
        _named("Equity", "World", "{cur}"),
    ),
    (  # a payout converted to another currency passes through one of these per currency
        _rule(rf"platform:fx:{_CUR}"),
        _named("Equity", "FxConversion", "{cur}"),
    ),
    (  # escrow deposits (held for investors until released or refunded)
        _rule(rf"escrow:(?P<deal>.+):{_CUR}"),
        _named("Liabilities", "Escrow", "{deal}", "{cur}"),
    ),
)


@lru_cache(maxsize=65536)
def book_account(code: str, normal_side: str) -> BookAccount:
    """The books' name for the ledger account ``code`` (``normal_side`` decides the root of a
    code no chart family claims: debit-normal → Assets, credit-normal → Liabilities)."""
    for pattern, namer in BOOK_RULES:
        match = pattern.fullmatch(code)
        if match is not None:
            return namer(match)
    root = "Assets" if normal_side == "debit" else "Liabilities"
    return BookAccount(f"{root}:Other:{component(code)}", root)
