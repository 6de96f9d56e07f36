"""Approver keys, canonical payloads and Ed25519 signatures: pure functions and files, no database.

An approval is a signature, not a typed name: the approver holds an Ed25519 private key (a PEM
file only they can read, made by ``keygen``), the scope's approver list holds the public key,
and what is signed is the *canonical payload* of the subject (``canonical_payload``): the same
fields always give the same bytes, so a signature stays checkable later and fails as soon as
any signed field changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from legato_pay.errors import AlreadyExists, InvalidInput

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

#: Version of the canonical form; part of every payload so a future form never collides.
PAYLOAD_VERSION = 1
#: A key file is a few hundred bytes; anything bigger is the wrong file (or /dev/zero).
MAX_KEY_FILE_BYTES = 4096
_HEX_KEY = re.compile(r"[0-9a-f]{64}", re.ASCII)
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{128}", re.ASCII)
_KIND = re.compile(r"[a-z][a-z0-9_.]{0,39}", re.ASCII)
_FIELD = re.compile(r"[a-z][a-z0-9_]{0,63}", re.ASCII)


def _key_error(message: str, path: str | os.PathLike[str] | None = None) -> InvalidInput:
    details = {"path": str(path)[:300]} if path is not None else {}
    return InvalidInput(message, details=details, code="INVALID_KEY")


# -- canonical payloads ------------------------------------------------------------------------


def _check_value(value: Any, where: str) -> None:
    """Only values with one exact JSON form: integers (money in minor units), strings,
    booleans, null, and lists/objects of them. Floats and Decimals are refused: 9.99 has no
    single canonical text, and money is integer minor units everywhere."""
    if value is None or isinstance(value, bool | int | str):
        if isinstance(value, str) and "\x00" in value:
            raise InvalidInput(f"{where}: NUL in a signed field", details={"field": where})
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_value(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not _FIELD.fullmatch(key):
                raise InvalidInput(f"{where}: field names are lower_snake_case ASCII")
            _check_value(item, f"{where}.{key}")
        return
    raise InvalidInput(
        f"{where}: {type(value).__name__} cannot be signed (integers for money, strings, "
        "booleans, null, lists and objects only)",
        details={"field": where},
    )


def canonical_payload(kind: str, fields: dict[str, Any]) -> bytes:
    """The bytes an approval signs: ``{"kind": kind, "version": 1, **fields}`` as JSON with
    sorted keys, no whitespace, ASCII only (``\\u`` escapes), integers for money.

    >>> canonical_payload("payout", {"id": 7, "amount_minor": 1250, "currency": "USD"})
    b'{"amount_minor":1250,"currency":"USD","id":7,"kind":"payout","version":1}'
    """
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise InvalidInput("a payload kind is lower-case ASCII (e.g. payout, escrow_release)")
    if not isinstance(fields, dict):
        raise InvalidInput("payload fields are a mapping of names to values")
    if "kind" in fields or "version" in fields:
        raise InvalidInput("'kind' and 'version' are set by canonical_payload itself")
    _check_value(fields, kind)
    document = {"kind": kind, "version": PAYLOAD_VERSION, **fields}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return text.encode("ascii")


def payload_digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


# -- key files ---------------------------------------------------------------------------------


def _read_bounded(path: str | os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise _key_error(f"cannot read key file {path}: {exc.strerror}", path) from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise _key_error(f"{path} is larger than {MAX_KEY_FILE_BYTES} bytes: not a key", path)
    return data


def public_key_hex(key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def fingerprint(public_hex: str) -> str:
    """A short, stable name for a public key (first 16 hex digits of its SHA-256), for lists."""
    return "SHA256:" + hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()[:16]


def keygen(out: str | os.PathLike[str]) -> dict[str, str]:
    """Write a new Ed25519 key pair: the private key (PEM, PKCS#8) to ``out`` with mode 0600,
    the public key (PEM) to ``out.pub``. Never overwrites either file (ALREADY_EXISTS)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    private_path = Path(out)
    public_path = Path(f"{private_path}.pub")
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise AlreadyExists(
                f"{path} exists: keygen never overwrites a key", details={"path": str(path)}
            )
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    public_pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    _write_new(private_path, private_pem, 0o600)
    try:
        _write_new(public_path, public_pem, 0o644)
    except BaseException:
        private_path.unlink()
        raise
    public_hex = public_key_hex(key.public_key())
    return {
        "private_key_file": str(private_path),
        "public_key_file": str(public_path),
        "public_key": public_hex,
        "fingerprint": fingerprint(public_hex),
    }


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` (refusing an existing one, even one made a moment ago) with ``mode``
    from the start: the private key is never readable by others, not even briefly."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags, mode)
    except FileExistsError:
        raise AlreadyExists(
            f"{path} exists: keygen never overwrites a key", details={"path": str(path)}
        ) from None
    except OSError as exc:
        raise _key_error(f"cannot write {path}: {exc.strerror}", path) from None
    try:
        os.fchmod(descriptor, mode)  # the umask may have taken bits away; never added any
        os.write(descriptor, data)
    finally:
        os.close(descriptor)


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """The Ed25519 private key in ``path``; refused (INVALID_KEY) if others can read the file,
    as ssh refuses an unprotected key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    data = _read_bounded(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:  # pragma: no cover - read just succeeded
        raise _key_error(f"cannot read key file {path}: {exc.strerror}", path) from None
    if stat.S_IMODE(mode) & 0o077:
        raise _key_error(
            f"{path} is readable by other users: chmod 600 it (a private key is yours alone)",
            path,
        )
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise _key_error(f"{path} is not an unencrypted PEM private key", path) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise _key_error(f"{path} is not an Ed25519 key", path)
    return key


def read_public_key(path: str | os.PathLike[str]) -> str:
    """The public key in ``path`` (PEM from ``keygen``, or 64 hex digits) as hex."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    data = _read_bounded(path)
    text = data.decode("ascii", errors="replace").strip()
    if _HEX_KEY.fullmatch(text.lower()):
        return text.lower()
    if "PRIVATE KEY" in text:
        raise _key_error(f"{path} holds a PRIVATE key: give the .pub file", path)
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError):
        raise _key_error(f"{path} is not a PEM public key", path) from None
    if not isinstance(key, Ed25519PublicKey):
        raise _key_error(f"{path} is not an Ed25519 public key", path)
    return public_key_hex(key)


# -- signatures --------------------------------------------------------------------------------


def sign(private_key_file: str | os.PathLike[str], payload: bytes) -> str:
    """The Ed25519 signature of ``payload`` with the key in ``private_key_file``, as hex."""
    if not isinstance(payload, bytes):
        raise InvalidInput("the payload to sign is bytes from canonical_payload")
    return load_private_key(private_key_file).sign(payload).hex()


def signature_valid(public_hex: str, payload: bytes, signature: str) -> bool:
    """True only if ``signature`` (hex) is ``payload`` signed by the key ``public_hex``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not isinstance(signature, str) or not _HEX_SIGNATURE.fullmatch(signature):
        return False
    if not isinstance(public_hex, str) or not _HEX_KEY.fullmatch(public_hex):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(
            bytes.fromhex(signature), payload
        )
    except (InvalidSignature, ValueError):
        return False
    return True


__all__ = [
    "PAYLOAD_VERSION",
    "canonical_payload",
    "fingerprint",
    "keygen",
    "load_private_key",
    "payload_digest",
    "read_public_key",
    "sign",
    "signature_valid",
]
