"""The chart of accounts: every account code the platform's flows use, in one place.

Codes are readable and stable. Wallets, earnings and escrow are no-overdraft; system accounts
that nearly every posting touches (cash clearing, sales, revenue, coin issuance) are *hot*, so
they are never a lock that postings queue on (see ``ledger.seal``).

- ``user:<u>:coins:paid`` / ``user:<u>:coins:bonus``  a reader's coins (COIN, no overdraft)
- ``platform:coins:issuance``        where coins come from and return to when clawed back (COIN)
- ``platform:coins:redeemed``        coins spent on content and tips (COIN)
- ``gateway:<g>:<CUR>``              cash held at a gateway (debit-normal asset)
- ``platform:coin_sales:<CUR>``      what readers paid for coins
- ``platform:coin_value:<CUR>``      value of coins redeemed, funding writers' and platform shares
- ``writer:<w>:earnings:<CUR>``      a writer's earnings (no overdraft; pending while on hold)
- ``platform:revenue:<stream>:<CUR>`` platform share per stream (content, tips, subscription…)
- ``platform:refund_losses:<CUR>``   refunds of coins already spent
- ``subscriptions:pool:<YYYY-MM>:<CUR>`` a period's subscription fees, split at the revenue run
  (paid out by the run to ``writer:<w>:earnings:<CUR>`` and ``platform:revenue:subscription:<CUR>``,
  or carried into the next period's pool)
- ``platform:receipts:<stream>:<CUR>`` licensing and ads money received for writers' work
  (debit-normal asset, split by ``revenue record``/``import``)
- ``investor:<i>:earnings:<CUR>``    an investor's money: app revenue distributions land here,
                                     priced share transfers move between two of them (no overdraft)
- ``app:<a>:funds:<CUR>``            an app's revenue held for distribution: a distribution debits
                                     it (may run negative: revenue distributed before it was booked)
- ``tax:withholding:<CC>:<CUR>``     tax withheld from writers' payouts for country CC, owed to
                                     its tax authority until remitted (credit-normal liability)
- ``platform:cash:tax:<CUR>``        the bank account remittances are paid from (debit-normal
                                     asset; a remittance credits it)
- ``payouts:in_flight:<CUR>``        writers' payouts requested and not yet settled: a payout
                                     request reserves its gross here as a pending entry
- ``platform:fx:<CUR>``              the platform's currency position from payouts converted
                                     to another currency (``--convert-to``): credited in the
                                     currency bought, debited in the one sold (hot, credit-normal)

Services open these accounts here only: ``open_accounts`` takes the requests the builders below
return (``system_account``, ``wallet_accounts``, ``writer_earnings_account``) and opens the
missing ones in one batch; ``open_system``, ``open_wallets`` and ``open_writer_earnings`` are
one-line uses of it.

The namespaces these codes live in are the services' own (``RESERVED_NAMESPACES``): an
operator cannot open an account there (``open_operator_account`` refuses with
``RESERVED_ACCOUNT``), and ``expected_account`` gives the shape the chart opens a code with, so
``ledger verify`` can report an existing row of another shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from legato_pay.errors import InvalidInput
from legato_pay.ledger.types import Account, AccountRequest, Side

if TYPE_CHECKING:  # the codes are read without the database (the light read path)
    from sqlalchemy.orm import Session

COIN = "COIN"


def wallet_paid(user_id: str) -> str:
    return f"user:{user_id}:coins:paid"


def wallet_bonus(user_id: str) -> str:
    return f"user:{user_id}:coins:bonus"


COIN_ISSUANCE = "platform:coins:issuance"
COINS_REDEEMED = "platform:coins:redeemed"


def gateway_cash(gateway: str, currency: str) -> str:
    return f"gateway:{gateway}:{currency}"


def coin_sales(currency: str) -> str:
    return f"platform:coin_sales:{currency}"


def coin_value(currency: str) -> str:
    return f"platform:coin_value:{currency}"


def writer_earnings(writer_id: str, currency: str) -> str:
    return f"writer:{writer_id}:earnings:{currency}"


def platform_revenue(stream: str, currency: str) -> str:
    return f"platform:revenue:{stream}:{currency}"


def refund_losses(currency: str) -> str:
    return f"platform:refund_losses:{currency}"


def subscription_pool(period: str, currency: str) -> str:
    return f"subscriptions:pool:{period}:{currency}"


def revenue_receipts(stream: str, currency: str) -> str:
    return f"platform:receipts:{stream}:{currency}"


def investor_earnings(investor_id: str, currency: str) -> str:
    return f"investor:{investor_id}:earnings:{currency}"


def app_funds(app_id: str, currency: str) -> str:
    return f"app:{app_id}:funds:{currency}"


def tax_withholding(country: str, currency: str) -> str:
    return f"tax:withholding:{country}:{currency}"


def tax_cash(currency: str) -> str:
    return f"platform:cash:tax:{currency}"


def payouts_in_flight(currency: str) -> str:
    return f"payouts:in_flight:{currency}"


def platform_fx(currency: str) -> str:
    return f"platform:fx:{currency}"


def platform_fx_account(currency: str) -> AccountRequest:
    """The platform's position in ``currency`` from converted payouts (hot, credit-normal: it
    may run either way)."""
    return system_account(platform_fx(currency), currency)


def wallet_accounts(user_id: str) -> tuple[AccountRequest, AccountRequest]:
    """A reader's two coin wallets (paid, bonus): no overdraft."""
    return (
        AccountRequest(wallet_paid(user_id), COIN, no_overdraft=True),
        AccountRequest(wallet_bonus(user_id), COIN, no_overdraft=True),
    )


def writer_earnings_account(writer_id: str, currency: str) -> AccountRequest:
    """A writer's earnings in ``currency``: no overdraft (pending while on hold)."""
    return AccountRequest(writer_earnings(writer_id, currency), currency, no_overdraft=True)


def investor_earnings_account(investor_id: str, currency: str) -> AccountRequest:
    """An investor's money in ``currency``: no overdraft (a buyer cannot pay with money it
    does not have)."""
    return AccountRequest(investor_earnings(investor_id, currency), currency, no_overdraft=True)


def app_funds_account(app_id: str, currency: str) -> AccountRequest:
    """An app's revenue held for distribution (credit-normal, not hot: one per app)."""
    return AccountRequest(app_funds(app_id, currency), currency)


def escrow_account_code(deposit_id: int | str, currency: str) -> str:
    """The code of one deposit's escrow account."""
    return f"escrow:{deposit_id}:{currency}"


def escrow_account(deposit_id: int | str, currency: str) -> AccountRequest:
    """One deposit's money held in escrow (credit-normal, never overdrawn, not hot: one per
    deposit). Releases and refunds move out of it, held ones as pending entries, so the
    ledger's no-overdraft check is what keeps released + refunded + held within the deposit."""
    return AccountRequest(escrow_account_code(deposit_id, currency), currency, no_overdraft=True)


def tax_withholding_account(country: str, currency: str) -> AccountRequest:
    """Tax withheld for ``country``: a hot, credit-normal liability (every payout touches it)."""
    return system_account(tax_withholding(country, currency), currency)


def tax_cash_account(currency: str) -> AccountRequest:
    """The bank account tax remittances are paid from: a debit-normal asset."""
    return system_account(tax_cash(currency), currency, debit_normal=True)


def system_account(code: str, currency: str, *, debit_normal: bool = False) -> AccountRequest:
    """A hot system account (totals rolled up at each seal)."""
    return AccountRequest(
        code, currency, hot=True, normal_side="debit" if debit_normal else "credit"
    )


def open_accounts(session: Session, requests: Iterable[AccountRequest]) -> dict[str, Account]:
    """Open the chart's accounts if absent, or fetch them: the one way services open accounts.

    The ledger does the work in one batch (known accounts are a cached lookup and no write; an
    existing account of another shape is refused); services come through here so that which
    accounts exist, and with what shape, is decided by this module's requests alone."""
    from legato_pay.ledger.accounts import open_accounts as ledger_open_accounts

    return ledger_open_accounts(session, list(requests))


def open_system(
    session: Session, code: str, currency: str, *, debit_normal: bool = False
) -> Account:
    """Open (or fetch) one hot system account."""
    return open_accounts(session, [system_account(code, currency, debit_normal=debit_normal)])[code]


def open_wallets(session: Session, user_id: str) -> tuple[Account, Account]:
    """Open (or fetch) a reader's two coin wallets."""
    paid, bonus = wallet_accounts(user_id)
    found = open_accounts(session, [paid, bonus])
    return found[paid.code], found[bonus.code]


def open_writer_earnings(session: Session, writer_id: str, currency: str) -> Account:
    """Open (or fetch) a writer's earnings account in ``currency``."""
    request = writer_earnings_account(writer_id, currency)
    return open_accounts(session, [request])[request.code]


#: Code prefixes only the services open accounts under (through this module).
RESERVED_NAMESPACES = (
    "user:",
    "writer:",
    "platform:",
    "gateway:",
    "subscriptions:pool:",
    "world:",
    "escrow:",
    "app:",
    "investor:",
    "tax:",
    "payouts:",
)

_CUR = r"(?P<cur>[A-Z]{3}|COIN)"


def _rule(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII)


#: Each code the chart opens, and the shape it opens it with (from the code's match).
_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], AccountRequest]], ...] = (
    (
        _rule(r"user:(?P<user>.+):coins:(?P<bucket>paid|bonus)"),
        lambda m: AccountRequest(m.group(0), COIN, no_overdraft=True),
    ),
    (
        _rule(r"platform:coins:(issuance|redeemed)"),
        lambda m: system_account(m.group(0), COIN),
    ),
    (
        _rule(rf"gateway:(?P<gateway>[^:]+):{_CUR}"),
        lambda m: system_account(m.group(0), m.group("cur"), debit_normal=True),
    ),
    (
        _rule(rf"platform:(coin_sales|coin_value):{_CUR}"),
        lambda m: system_account(m.group(0), m.group("cur")),
    ),
    (
        _rule(rf"writer:(?P<writer>.+):earnings:{_CUR}"),
        lambda m: writer_earnings_account(m.group("writer"), m.group("cur")),
    ),
    (
        _rule(rf"platform:revenue:(?P<stream>[^:]+):{_CUR}"),
        lambda m: system_account(m.group(0), m.group("cur")),
    ),
    (
        _rule(rf"platform:receipts:(?P<stream>licensing|ads):{_CUR}"),
        lambda m: system_account(m.group(0), m.group("cur"), debit_normal=True),
    ),
    (
        _rule(rf"platform:refund_losses:{_CUR}"),
        lambda m: system_account(m.group(0), m.group("cur"), debit_normal=True),
    ),
    (
        _rule(rf"subscriptions:pool:(?P<period>[0-9]{{4}}-[0-9]{{2}}):{_CUR}"),
        lambda m: system_account(m.group(0), m.group("cur")),
    ),
    (
        _rule(rf"investor:(?P<investor>.+):earnings:{_CUR}"),
        lambda m: investor_earnings_account(m.group("investor"), m.group("cur")),
    ),
    (
        _rule(rf"app:(?P<app>[^:]+):funds:{_CUR}"),
        lambda m: app_funds_account(m.group("app"), m.group("cur")),
    ),
    (  # one escrow deposit's held money
        _rule(rf"escrow:(?P<deposit>[0-9]+):{_CUR}"),
        lambda m: escrow_account(m.group("deposit"), m.group("cur")),
    ),
    (  # withholding tax owed to a country's authority (a liability)
        _rule(rf"tax:withholding:(?P<country>[A-Z]{{2}}):{_CUR}"),
        lambda m: tax_withholding_account(m.group("country"), m.group("cur")),
    ),
    (  # the bank account tax remittances are paid from
        _rule(rf"platform:cash:tax:{_CUR}"),
        lambda m: tax_cash_account(m.group("cur")),
    ),
    (
        _rule(rf"payouts:in_flight:{_CUR}"),
        lambda m: system_account(m.group(0), m.group("cur")),
    ),
    (  # the platform's currency position from converted payouts
        _rule(rf"platform:fx:{_CUR}"),
        lambda m: platform_fx_account(m.group("cur")),
    ),
    (  # the outside world: opened by the ledger on first use, hot and credit-normal
        _rule(rf"world:{_CUR}"),
        lambda m: system_account(m.group(0), m.group("cur")),
    ),
)


def reserved_namespace(code: str) -> str | None:
    """The services' namespace ``code`` lies in, or None if an operator may use it."""
    return next((prefix for prefix in RESERVED_NAMESPACES if code.startswith(prefix)), None)


def expected_account(code: str) -> AccountRequest | None:
    """The shape the chart opens ``code`` with, or None for a code the chart never opens."""
    for pattern, shape in _RULES:
        match = pattern.fullmatch(code)
        if match is not None:
            return shape(match)
    return None


def open_operator_account(
    session: Session,
    code: str,
    currency: str,
    *,
    no_overdraft: bool = False,
    hot: bool = False,
    normal_side: Side = "credit",
    metadata: dict[str, Any] | None = None,
) -> Account:
    """Open an account an operator asked for (``ledger open``): never in a namespace the
    services own, where an account of the wrong shape would block them forever (accounts are
    never deleted)."""
    namespace = reserved_namespace(code) if isinstance(code, str) else None
    if namespace is not None:
        raise InvalidInput(
            f"account codes under {namespace}* are opened by the services themselves, "
            "with the chart's currency and limits; choose a code outside "
            + ", ".join(f"{prefix}*" for prefix in RESERVED_NAMESPACES),
            details={"code": code, "namespace": namespace},
            code="RESERVED_ACCOUNT",
        )
    from legato_pay.ledger.accounts import open_account as ledger_open_account

    return ledger_open_account(
        session,
        code,
        currency,
        no_overdraft=no_overdraft,
        hot=hot,
        normal_side=normal_side,
        metadata=metadata,
    )
