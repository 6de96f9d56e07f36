"""The parameters of the PostgreSQL posting statement (``ledger.postgres``): each column of
the batch as one array literal (``store.arrays``), which the server parses at once.

A single posting sends a batch of one entry; its literals are written out directly
(``_one_entry_params``), since the client's time per posting competes with the server's for
the same cores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from legato_pay.ledger.shaping import Prepared, iso_or_none, limit_kind, metadata_texts
from legato_pay.ledger.types import Account
from legato_pay.store import arrays
from legato_pay.store.locks import JOURNAL


def entry_params(prepared: Sequence[Prepared], keys: list[str]) -> dict[str, Any]:
    """The entries' columns, the pending states' and the keys to look up, as arrays."""
    if len(prepared) == 1:
        return _one_entry_params(prepared[0], keys)
    return _entries_params(prepared, keys)


def _entries_params(prepared: Sequence[Prepared], keys: list[str]) -> dict[str, Any]:
    pending = [entry for entry in prepared if entry.kind == "pending"]
    return {
        "lock_key": JOURNAL,
        "keys": arrays.texts([entry.key for entry in prepared]),
        "hashes": arrays.texts([entry.content_hash for entry in prepared]),
        "kinds": arrays.texts([entry.kind for entry in prepared]),
        "targets": arrays.ints([entry.target_entry_id for entry in prepared]),
        "reverses": arrays.ints([entry.reverses_entry_id for entry in prepared]),
        "reasons": arrays.texts([entry.reason for entry in prepared]),
        "metadata": arrays.texts(metadata_texts(prepared)),
        "effective": arrays.texts([iso_or_none(entry.effective_at) for entry in prepared]),
        "expires": arrays.texts([iso_or_none(entry.expires_at) for entry in prepared]),
        "find_keys": arrays.texts(keys),
        "pending_entry": arrays.ints(
            [index + 1 for index, entry in enumerate(prepared) if entry.kind == "pending"]
        ),
        "pending_expires": arrays.texts([iso_or_none(entry.expires_at) for entry in pending]),
        "pending_post_at": arrays.texts([iso_or_none(entry.post_at) for entry in pending]),
    }


def account_params(
    accounts: dict[int, Account],
    deltas: dict[int, list[int]],
    order: list[int],
    folded: frozenset[int] | set[int] = frozenset(),
) -> dict[str, Any]:
    """Each non-hot account's change over the batch, in id order, and its limit kind (its
    normal side for an account in ``folded``: see ``leg_params``)."""
    dps: list[int] = []
    cps: list[int] = []
    dpes: list[int] = []
    cpes: list[int] = []
    limits: list[str | None] = []
    for account_id in order:
        delta = deltas[account_id]
        dp, cp, dpe, cpe = delta
        dps.append(dp)
        cps.append(cp)
        dpes.append(dpe)
        cpes.append(cpe)
        account = accounts[account_id]
        if not account.no_overdraft:
            limits.append(None)
            continue
        limit = limit_kind(account, delta)
        limits.append(account.normal_side if limit is None and account_id in folded else limit)
    ints = arrays.ints
    return {
        "acct_id": ints(order),
        "acct_dp": ints(dps),
        "acct_cp": ints(cps),
        "acct_dpe": ints(dpes),
        "acct_cpe": ints(cpes),
        "acct_limit": arrays.texts(limits),
    }


# No no-overdraft account touched: every check column is empty.
_NO_CHECKS = dict.fromkeys(
    ("check_account", "check_credit", "check_sdp", "check_scp", "check_sdpe", "check_scpe"), "{}"
)


def leg_params(
    prepared: Sequence[Prepared],
    accounts: dict[int, Account],
    deltas: dict[int, list[int]],
    *,
    fold: bool = False,
) -> tuple[dict[str, Any], set[int]]:
    """Legs, and per leg of a non-hot account what the batch adds to that account after the leg
    (its running totals are the account's new totals less that; NULL for hot accounts).
    Per entry and no-overdraft account it touches: what the entries after it add (the check
    that the account is not short after that entry).

    With ``fold``, a no-overdraft account none of whose checks can fail unless it is short after
    the whole batch (what the entries after each add never raises what it has available, as
    with an account that a batch only pays into, or only takes from) gets no checks: it is
    returned, and ``account_params`` gives it its limit, so that the accounts' update checks it
    once, after the batch. A batch paying thousands of writers then sends no checks at all."""
    legs = [leg for entry in prepared for leg in entry.legs]
    after: list[tuple[Any, ...]] = []
    none = (None, None, None, None)
    checks: list[tuple[Any, ...]] = []
    needed: set[int] = set()  # accounts with a check that the end-of-batch limit does not imply
    rest = {account_id: list(delta) for account_id, delta in deltas.items()}
    for entry in prepared:
        touched: dict[int, None] = {}
        for leg in entry.legs:
            account = leg.account
            if account.hot:
                after.append(none)
                continue
            left = rest[account.id]
            if leg.is_debit:
                left[0] -= leg.amount
                left[2] -= leg.pending_amount
            else:
                left[1] -= leg.amount
                left[3] -= leg.pending_amount
            after.append((left[0], left[1], left[2], left[3]))
            if account.no_overdraft:
                touched[account.id] = None
        for account_id in touched:
            dp, cp, dpe, cpe = rest[account_id]
            credit = accounts[account_id].normal_side == "credit"
            checks.append((account_id, credit, dp, cp, dpe, cpe))
            # What the later entries add to what the account has available: if positive, it
            # may be short after this entry though not after the batch.
            if (cp - dp - dpe if credit else dp - cp - cpe) > 0:
                needed.add(account_id)
    folded: set[int] = set()
    if fold and checks:
        folded = {row[0] for row in checks} - needed
        checks = [row for row in checks if row[0] in needed]
    ints, texts, bools = arrays.ints, arrays.texts, arrays.bools
    after_columns: list[tuple[Any, ...]] = list(zip(*after, strict=True)) or [(), (), (), ()]
    params: dict[str, Any] = {
        "leg_entry": ints([n for n, entry in enumerate(prepared, start=1) for _ in entry.legs]),
        "leg_account": ints([leg.account.id for leg in legs]),
        "leg_currency": texts([leg.account.currency for leg in legs]),
        "leg_debit": bools([leg.is_debit for leg in legs]),
        "leg_amount": ints([leg.amount for leg in legs]),
        "leg_pending": ints([leg.pending_amount for leg in legs]),
        "leg_sdp": ints(after_columns[0]),
        "leg_scp": ints(after_columns[1]),
        "leg_sdpe": ints(after_columns[2]),
        "leg_scpe": ints(after_columns[3]),
    }
    if not checks:
        params.update(_NO_CHECKS)
        return params, folded
    check_columns: list[tuple[Any, ...]] = list(zip(*checks, strict=True))
    params["check_account"] = ints(check_columns[0])
    params["check_credit"] = bools(check_columns[1])
    params["check_sdp"], params["check_scp"] = ints(check_columns[2]), ints(check_columns[3])
    params["check_sdpe"], params["check_scpe"] = ints(check_columns[4]), ints(check_columns[5])
    return params, folded


def _one_entry_params(entry: Prepared, keys: list[str]) -> dict[str, Any]:
    """``entry_params`` of a batch of one: the same literals, without a list per column."""
    key = _one_text(entry.key)
    expires = _one_text(iso_or_none(entry.expires_at))
    pending = entry.kind == "pending"
    return {
        "lock_key": JOURNAL,
        "keys": key,
        "hashes": _one_text(entry.content_hash),
        "kinds": _one_text(entry.kind),
        "targets": _one_int(entry.target_entry_id),
        "reverses": _one_int(entry.reverses_entry_id),
        "reasons": _one_text(entry.reason),
        "metadata": _one_text(metadata_texts((entry,))[0]),
        "effective": _one_text(iso_or_none(entry.effective_at)),
        "expires": expires,
        "find_keys": key if keys else "{}",
        "pending_entry": "{1}" if pending else "{}",
        "pending_expires": expires if pending else "{}",
        "pending_post_at": _one_text(iso_or_none(entry.post_at)) if pending else "{}",
    }


def _one_text(value: str | None) -> str:
    """``arrays.texts([value])``."""
    return "{NULL}" if value is None else arrays.texts((value,))


def _one_int(value: int | None) -> str:
    """``arrays.ints([value])``."""
    return "{NULL}" if value is None else "{" + str(value) + "}"
