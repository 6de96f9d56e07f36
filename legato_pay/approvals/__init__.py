"""Maker-checker approvals shared by payouts and escrow: Ed25519 approver keys, canonical
payloads, and signatures re-checked whenever they are counted.

``keys`` is pure (files and cryptography, no database); ``approvers`` keeps the approver lists,
``service`` the approvals. Typical use by a domain::

    payload = canonical_payload("payout", {"id": 7, "amount_minor": 150000, ...})
    record_approval(session, scope="payouts", subject_kind="payout", subject_id="7",
                    payload=payload, signature=sign(key_file, payload),
                    approver_name="carol", actor=actor, requested_by=payout.requested_by)
    if len(valid_approvals(session, "payouts", "payout", "7", payload)) >= 1: ...
"""

from legato_pay.approvals.approvers import (
    ApproverView,
    add_approver,
    get_approver,
    list_approvers,
    on_approver_removed,
    remove_approver,
    resolve_signer,
)
from legato_pay.approvals.keys import (
    canonical_payload,
    keygen,
    payload_digest,
    read_public_key,
    sign,
    signature_valid,
)
from legato_pay.approvals.service import (
    ApprovalView,
    consume_approvals,
    record_approval,
    valid_approvals,
    verify_approvals,
    void_subject_approvals,
)

__all__ = [
    "ApprovalView",
    "ApproverView",
    "add_approver",
    "canonical_payload",
    "consume_approvals",
    "get_approver",
    "keygen",
    "list_approvers",
    "on_approver_removed",
    "payload_digest",
    "read_public_key",
    "record_approval",
    "remove_approver",
    "resolve_signer",
    "sign",
    "signature_valid",
    "valid_approvals",
    "verify_approvals",
    "void_subject_approvals",
]
