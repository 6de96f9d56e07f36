"""Hypothesis strategies for hostile input: command-line values, files and webhook bodies.

Values are what a careless or hostile person can type or a provider can send. Command-line
values never hold NUL: ``execve`` cannot pass one in an argument, so no shell can type it; NUL
reaches the toolkit through files and webhook bodies, and is generated there. A byte that is
not UTF-8 does reach an argument: Python decodes it as a lone surrogate (``\\udcff``).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

BIG = 2**63
#: Numbers in every form a person or a script might write one, and some no one should.
NUMBERS = [
    "0",
    "-0",
    "-1",
    str(BIG - 1),
    str(BIG),
    str(-BIG - 1),
    str(2**64),
    "1" + "0" * 400,
    "1000000000000",
    "1e3",
    "1E400",
    "1.5",
    "0.001",
    "12.505",
    "1,000",
    "1_000",
    "0x10",
    "+5",
    " 7",
    "7 ",
    "nan",
    "inf",
    "-Infinity",
    "١٢",  # Arabic-Indic digits
    "１２",  # fullwidth digits
    "²",
    "12\n",
    "12.50 USD",
    "$12.50",
]
#: Times: out of range once shifted to UTC, impossible dates, naive, not times at all.
TIMES = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01",
    "9999-12-31",
    "2026-02-30T00:00:00Z",
    "2026-01-01T25:00:00Z",
    "2026-01-01T00:00:00",
    "2026-01-01T00:00:00+99:00",
    "2026-01-01T00:00:00Z\n",
    "now",
    "1700000000",
    "２０２６-01-01",
]
#: JSON where a scalar is expected.
STRUCTURES = ["[]", "[1, 2]", "{}", '{"a": 1}', "null", "true", "false", '"x"']
#: Text: empty, blank, trailing newline, look-alikes, long, direction overrides, not UTF-8.
TEXTS = [
    "",
    " ",
    "\t",
    "\n",
    "alice\n",
    "alice ",
    " alice",
    "ALICE",
    "ålice",
    "ａｌｉｃｅ",
    "\u202eevil",
    "🦆",
    "\udcff",  # a byte that is not UTF-8, as Python hands it over from argv
    "x\udcfe\udcff",
    "'; DROP TABLE users; --",
    "%",
    "_",
    "*",
    "../../etc/passwd",
    "-x",
    "--",
    "a" * 300,
    "a" * 100_000,
    "user:alice:coins:paid",
    "world:EUR",
    "platform:coins:issuance",
    "USD",
    "usd",
    "XXX",
    "ＵＳＤ",
]
HOSTILE_VALUES = NUMBERS + TIMES + STRUCTURES + TEXTS


def argv_bytes() -> st.SearchStrategy[str]:
    """Arbitrary bytes as an argument, decoded as Python decodes argv (``surrogateescape``):
    what a shell passes for ``$'\\xff…'`` or a file name in another encoding."""
    return (
        st.binary(min_size=1, max_size=12)
        .map(lambda raw: raw.replace(b"\x00", b""))
        .filter(bool)
        .map(lambda raw: raw.decode("utf-8", "surrogateescape"))
    )


def hostile_value() -> st.SearchStrategy[str]:
    """A listed hostile value, short arbitrary text, or arbitrary bytes; never NUL (argv
    cannot carry one)."""
    arbitrary = st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=20,
    )
    return st.one_of(st.sampled_from(HOSTILE_VALUES), arbitrary, argv_bytes())


#: Values a well-meaning operator would type, by parameter name; the seeded database
#: (``conftest.seeded``) has these records, so hostile values in one place reach deep code.
PLAUSIBLE: dict[str, list[str]] = {
    "user": ["alice", "bob"],
    "user_id": ["alice", "wendy"],
    "sender": ["alice"],
    "receiver": ["bob"],
    "writer": ["wendy"],
    "writer_id": ["wendy"],
    "content": ["ch-1", "ch-2"],
    "content_id": ["ch-1", "ch-new"],
    "contents": ["ch-1", "ch-2"],
    "code": ["savings:42", "world:USD", "ops:float"],
    "book_format": ["beancount", "hledger", "csv"],  # ledger export --format
    "source": ["world:USD"],
    "destination": ["savings:42"],
    "currency": ["USD", "NGN"],
    "amount": ["1.00", "0.50"],
    "entry_id": ["1", "2", "3"],
    "event_id": ["1"],
    "package": ["starter", "basic"],
    "package_id": ["starter", "fresh-pack"],
    "tier": ["premium", "basic"],
    "limit": ["5"],
    "coins": ["5"],
    "minutes": ["3"],
    "price": ["10", "NGN=1500.00", "25.00"],
    "price_usd": ["9.99"],
    "bonus_percent": ["5"],
    "remove_price": ["CAD"],
    "rate": ["1550.00"],
    "base": ["USD"],
    "quote": ["NGN"],
    "as_of": ["2026-01-05T00:00:00Z"],
    "now": ["2026-01-05T00:00:00Z"],
    "since": ["2026-01-01T00:00:00Z"],
    "until": ["2027-01-01T00:00:00Z"],
    "effective_at": ["2026-01-05T00:00:00Z"],
    "status": ["succeeded", "active", "stored"],
    "provider": ["stripe", "paystack"],
    "kind": ["reader", "writer"],
    "by": ["day", "month"],
    "content_type": ["chapter"],
    "prefix": ["user:"],
    "cursor": ["1"],
    "after": ["alice"],
    "min_total": ["1"],
    "normal": ["debit", "credit"],
    "meta": ["team=ops"],
    "gateway": ["sandbox"],
    "payment_method": ["pm_sandbox_ok"],
    "url": ["http://127.0.0.1:9/rates"],
    "email": ["someone@example.com"],
    "name": ["Someone"],
    "title": ["A title"],
    "message": ["thanks"],
    "reason": ["hostile battery"],
    "key": ["hostile-key"],
    "app_id": ["quill"],
    "owner": ["wendy"],
    "investor": ["ann"],
    "seller": ["ann"],
    "buyer": ["ben"],
    "units": ["10"],
    "record_date": ["now", "2026-01-05T00:00:00Z"],
    "from_": ["2026-01-01T00:00:00Z"],
    "to": ["2027-01-01T00:00:00Z"],
    "entry": ["1", "2", "3"],
    "expires_in": ["3600"],
    "channels": ["card"],
    "run": ["1"],
    "period": ["2026-01", "2026-11"],
    "stream": ["subscription", "licensing", "ads"],
    "model": ["pro-rata", "user-centric"],
    "force": ["hostile battery"],
}


def plausible_value(name: str, references: list[str] | None = None) -> st.SearchStrategy[str]:
    """What an operator would type for a parameter; purchase references are the seeded ones."""
    if name == "reference" and references:
        return st.sampled_from(references)
    return st.sampled_from(PLAUSIBLE.get(name, ["x"]))


# -- files -----------------------------------------------------------------------------------

#: Paths that are not regular small files.
SPECIAL_PATHS = ["/dev/zero", "/dev/null", "/nonexistent/hostile.txt", "/", "/proc/self/mem"]


def _json_line() -> st.SearchStrategy[str]:
    """A ``ledger post-batch`` line: a right shape with hostile values, or the wrong shape."""
    scalar: st.SearchStrategy[Any] = st.one_of(
        st.sampled_from(["world:USD", "savings:42", "1.00", "USD"]),
        st.sampled_from([*NUMBERS, *TEXTS[:20], "a\x00b"]),
        st.sampled_from([1e3, 2**63, -1, 0, True, False, None, [], {}, {"a": 1}, [1], 1.5]),
    )
    entry = st.fixed_dictionaries(
        {},
        optional={
            "from": scalar,
            "to": scalar,
            "amount": scalar,
            "currency": scalar,
            "key": scalar,
            "reason": scalar,
            "pending": scalar,
        },
    )
    return st.one_of(
        entry.map(json.dumps),
        st.sampled_from(["[]", "[1,2]", "null", "1e3", '"x"', "{", "{}"]),
    )


def _csv_text() -> st.SearchStrategy[str]:
    """An ``engagement import`` file: a header, then rows with hostile fields."""
    field = st.one_of(
        st.sampled_from(["alice", "ch-1", "3", "2026-01-05T00:00:00Z", "k1"]),
        st.sampled_from([*NUMBERS, *TIMES, *TEXTS[:20], "a\x00b", "x" * 140_000]),
    )
    header = st.sampled_from(
        ["user,content,minutes", "user,content,minutes,recorded_at,key", "user,user,minutes", ""]
    )
    rows = st.lists(st.lists(field, min_size=3, max_size=5), max_size=4)
    return st.builds(
        lambda h, r: "\n".join([h, *(",".join(json.dumps(v) for v in row) for row in r)]),
        header,
        rows,
    )


def _id_lines() -> st.SearchStrategy[str]:
    return st.lists(st.one_of(st.sampled_from(["ch-1", "ch-2"]), hostile_value()), max_size=5).map(
        "\n".join
    )


def _yaml_text() -> st.SearchStrategy[str]:
    """A ``--config`` file: YAML of the wrong shape or with hostile values."""
    return st.sampled_from(
        [
            "",
            "[]",
            "- 1\n- 2",
            "coins: 5",
            "coins: {spend_order: sideways}",
            "coins: {value_minor: 99999999999999999999999}",
            "gateways: {default: paypal}",
            "packages: [{id: 'x\\n', coins: -1}]",
            "database: {url: 'sqlite:////nonexistent/dir/x.db'}",
            "base_currency: '١٢٣'",
            "content: {refund_hold_days: 1e3}",
            "!!python/object/apply:os.system ['true']",
            "a: &a [*a]",
            "{{{{",
            "\t- tab",
        ]
    )


#: A file parameter's contents by command; anything else gets generic hostile bytes.
FILE_TEXTS = {
    "ledger post-batch": lambda: st.lists(_json_line(), min_size=1, max_size=3).map("\n".join),
    "engagement import": _csv_text,
    "access check-bulk": _id_lines,
    "--config": _yaml_text,
}


def file_contents(command: str) -> st.SearchStrategy[bytes]:
    """Bytes for a file given to ``command``: its format with hostile values, or raw trouble."""
    texts = FILE_TEXTS.get(command)
    raw = st.one_of(
        st.binary(max_size=64),
        st.sampled_from(
            [
                b"",
                b"\xff\xfe\xfa not utf-8",
                b"\x00" * 16,
                b"user,content,minutes\nalice,ch-1,3\x00\n",
                b'{"from": "world:USD", "to": "savings:42", "amount": "1.00", "currency": "USD", "reason": "\xff"}',
                b"x" * 300_000,
            ]
        ),
    )
    if texts is None:
        return raw
    return st.one_of(texts().map(lambda text: text.encode("utf-8", "surrogatepass")), raw)


# -- webhook bodies ----------------------------------------------------------------------------

_WEBHOOK_SCALARS: list[Any] = [
    None,
    True,
    0,
    -1,
    2**63,
    2**64,
    1e3,
    1.5,
    "",
    "١٢٠٠",
    "5000",
    "a\x00b",
    "x" * 100_000,
    [],
    {},
    [1],
    {"a": 1},
    "usd",
    "XXX",
]


def webhook_scalar() -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(_WEBHOOK_SCALARS), st.text(max_size=12))


def _maybe(plausible: list[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(plausible), webhook_scalar())


def stripe_body(references: list[str]) -> st.SearchStrategy[Any]:
    """A Stripe event of a type the listener handles, with hostile fields, or the wrong shape."""
    intent = st.fixed_dictionaries(
        {
            "id": _maybe(["pi_hostile_1", "pi_hostile_2"]),
            "object": _maybe(["payment_intent", "refund", "charge"]),
            "amount": _maybe([99, 499]),
            "amount_received": _maybe([99, 499]),
            "currency": _maybe(["usd", "ngn"]),
            "status": _maybe(["succeeded", "failed", "pending"]),
            "metadata": st.one_of(
                st.fixed_dictionaries({"reference": _maybe(references)}), webhook_scalar()
            ),
            "refunds": st.one_of(
                st.fixed_dictionaries(
                    {"data": st.lists(st.one_of(webhook_scalar(), st.just({"id": "re_1"})))}
                ),
                webhook_scalar(),
            ),
            "last_payment_error": _maybe([{"code": "card_declined"}]),
        }
    )
    event = st.fixed_dictionaries(
        {
            "id": _maybe(["evt_hostile_1", "evt_hostile_2", "evt_hostile_3"]),
            "type": _maybe(
                [
                    "payment_intent.succeeded",
                    "payment_intent.payment_failed",
                    "charge.refunded",
                    "refund.updated",
                    "refund.failed",
                    "payout.paid",
                ]
            ),
            "data": st.one_of(
                st.fixed_dictionaries({"object": st.one_of(intent, webhook_scalar())}),
                webhook_scalar(),
            ),
        }
    )
    return st.one_of(event, webhook_scalar())


def paystack_body(references: list[str]) -> st.SearchStrategy[Any]:
    """A Paystack event of a type the listener handles, with hostile fields, or the wrong shape."""
    data = st.fixed_dictionaries(
        {},
        optional={
            "id": _maybe([1001, 1002]),
            "reference": _maybe(references),
            "transaction_reference": _maybe(references),
            "status": _maybe(["success", "processed", "failed", "abandoned"]),
            "amount": _maybe([150000, 5000]),
            "currency": _maybe(["NGN", "USD"]),
            "transfer_code": _maybe(["TRF_1"]),
            "metadata": st.one_of(
                st.fixed_dictionaries({"reference": _maybe(references)}), webhook_scalar()
            ),
        },
    )
    event = st.fixed_dictionaries(
        {
            "event": _maybe(
                ["charge.success", "refund.processed", "refund.failed", "transfer.success"]
            ),
            "data": st.one_of(data, webhook_scalar()),
        }
    )
    return st.one_of(event, webhook_scalar())


def raw_body() -> st.SearchStrategy[bytes]:
    """Bodies that are not JSON, signed all the same."""
    return st.one_of(
        st.binary(max_size=64),
        st.sampled_from([b"", b"not json", b"\xff\xfe{", b'{"a": 1', b"[]", b"null", b"1e999"]),
    )
