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
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from legato_pay.ledger import Account, AccountRequest, open_account

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


def wallet_accounts(user_id: str) -> tuple[AccountRequest, AccountRequest]:
    """A reader's two coin wallets (paid, bonus): no overdraft."""
    return (
        AccountRequest(wallet_paid(user_id), COIN, no_overdraft=True),
        AccountRequest(wallet_bonus(user_id), COIN, no_overdraft=True),
    )


def system_account(code: str, currency: str, *, debit_normal: bool = False) -> AccountRequest:
    """A hot system account (totals rolled up at each seal)."""
    return AccountRequest(
        code, currency, hot=True, normal_side="debit" if debit_normal else "credit"
    )


def _open(session: Session, request: AccountRequest) -> Account:
    return open_account(
        session,
        request.code,
        request.currency,
        no_overdraft=request.no_overdraft,
        hot=request.hot,
        normal_side=request.normal_side,
        exist_ok=True,
    )


def open_wallets(session: Session, user_id: str) -> tuple[Account, Account]:
    paid, bonus = wallet_accounts(user_id)
    return _open(session, paid), _open(session, bonus)


def open_writer_earnings(session: Session, writer_id: str, currency: str) -> Account:
    return open_account(
        session, writer_earnings(writer_id, currency), currency, no_overdraft=True, exist_ok=True
    )


def open_system(
    session: Session, code: str, currency: str, *, debit_normal: bool = False
) -> Account:
    """Open (or fetch) a hot system account."""
    return _open(session, system_account(code, currency, debit_normal=debit_normal))
