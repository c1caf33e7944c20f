"""The T/CEC 102.4 envelope: AES-128-CBC ``Data``, upper-case HMAC-MD5 ``Sig``. No I/O.

Rules:
1. A request body is ``{OperatorID, Data, TimeStamp, Seq, Sig}``: ``TimeStamp`` is
   ``yyyyMMddHHmmss`` (the sender's local time), ``Seq`` four digits 0001–9999, ``Data`` the
   Base64 of the AES-128-CBC (PKCS#5 padding) encryption of the business JSON with the
   agreed ``DataSecret`` and ``DataSecretIV`` (16 bytes each), ``Sig`` the upper-case hex
   HMAC-MD5 with ``SigSecret`` of ``OperatorID + Data + TimeStamp + Seq``.
2. An answer is ``{Ret, Msg, Data, Sig}``, ``Sig`` over ``str(Ret) + Msg + Data``.
3. Checks, in order, each with its code: the body's shape (4003), the signature (4001),
   then ``Data`` decrypting to a JSON object (4004). The token (4002) is checked by the
   adapter between shape and signature. A wrong key fails the signature, never silently
   yields other data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

OK: Final = 0
BUSY: Final = -1
BAD_SIGNATURE: Final = 4001
BAD_TOKEN: Final = 4002
BAD_ENVELOPE: Final = 4003
BAD_PARAMETER: Final = 4004
SERVER_ERROR: Final = 500
REQUEST_FIELDS: Final = ("OperatorID", "Data", "TimeStamp", "Seq", "Sig")
_STAMP = re.compile(r"\d{14}")
_SEQ = re.compile(r"\d{4}")


class EnvelopeError(ValueError):
    """The peer sent an envelope we refuse; ``code`` is the Ret to answer with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Keys:
    """The agreed secrets (each ``DataSecret``/``DataSecretIV`` exactly 16 bytes)."""

    data_secret: str
    data_iv: str
    sig_secret: str

    def __post_init__(self) -> None:
        for name in ("data_secret", "data_iv"):
            if len(getattr(self, name).encode()) != 16:
                raise ValueError(f"{name} must be 16 bytes")


@dataclass(frozen=True, slots=True)
class Request:
    operator_id: str
    data: dict[str, Any]
    timestamp: str
    seq: str


@dataclass(frozen=True, slots=True)
class Answer:
    ret: int
    msg: str
    data: dict[str, Any] | None


def encrypt(keys: Keys, plain: bytes) -> str:
    """Base64 of AES-128-CBC/PKCS#5 of ``plain``."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    enc = Cipher(algorithms.AES(keys.data_secret.encode()),
                 modes.CBC(keys.data_iv.encode())).encryptor()
    return base64.b64encode(enc.update(padded) + enc.finalize()).decode("ascii")


def decrypt(keys: Keys, data: str) -> bytes:
    """The plain bytes of ``data``; ``ValueError`` if it is not Base64 of a valid cipher."""
    try:
        raw = base64.b64decode(data, validate=True)
    except binascii.Error as exc:
        raise ValueError("Data is not Base64") from exc
    if not raw or len(raw) % 16:
        raise ValueError("Data is not a whole number of AES blocks")
    dec = Cipher(algorithms.AES(keys.data_secret.encode()),
                 modes.CBC(keys.data_iv.encode())).decryptor()
    padded = dec.update(raw) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def sign(keys: Keys, *parts: str) -> str:
    """Upper-case hex HMAC-MD5 of the concatenated ``parts``."""
    mac = hmac.new(keys.sig_secret.encode(), "".join(parts).encode(), hashlib.md5)
    return mac.hexdigest().upper()


def dumps(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def build_request(keys: Keys, operator_id: str, data: dict[str, Any], timestamp: str,
                  seq: int) -> dict[str, str]:
    """The request body for ``data`` (rule 1); ``seq`` 1–9999."""
    if not 1 <= seq <= 9999:
        raise ValueError("seq must be 1-9999")
    body = {"OperatorID": operator_id, "Data": encrypt(keys, dumps(data)),
            "TimeStamp": timestamp, "Seq": f"{seq:04d}"}
    body["Sig"] = sign(keys, body["OperatorID"], body["Data"], body["TimeStamp"], body["Seq"])
    return body


def envelope_fields(body: object) -> dict[str, str]:
    """The request's fields, checked for shape only (4003)."""
    if not isinstance(body, dict):
        raise EnvelopeError(BAD_ENVELOPE, "the body is not a JSON object")
    missing = [f for f in REQUEST_FIELDS if not isinstance(body.get(f), str) or not body[f]]
    if missing:
        raise EnvelopeError(BAD_ENVELOPE, f"missing or empty: {', '.join(missing)}")
    if not _STAMP.fullmatch(body["TimeStamp"]):
        raise EnvelopeError(BAD_ENVELOPE, "TimeStamp is not yyyyMMddHHmmss")
    if not _SEQ.fullmatch(body["Seq"]) or body["Seq"] == "0000":
        raise EnvelopeError(BAD_ENVELOPE, "Seq is not 0001-9999")
    return {f: body[f] for f in REQUEST_FIELDS}


def _open(keys: Keys, data: str) -> dict[str, Any]:
    try:
        found = json.loads(decrypt(keys, data))
    except ValueError as exc:  # bad Base64, padding, UTF-8 or JSON
        raise EnvelopeError(BAD_PARAMETER, f"Data does not decrypt: {exc}") from exc
    if not isinstance(found, dict):
        raise EnvelopeError(BAD_PARAMETER, "Data is not a JSON object")
    return found


def parse_request(keys: Keys, body: object) -> Request:
    """The request in ``body`` (rule 3); ``EnvelopeError`` with the code to answer."""
    f = envelope_fields(body)
    expected = sign(keys, f["OperatorID"], f["Data"], f["TimeStamp"], f["Seq"])
    if not hmac.compare_digest(expected, f["Sig"]):
        raise EnvelopeError(BAD_SIGNATURE, "Sig does not verify")
    return Request(f["OperatorID"], _open(keys, f["Data"]), f["TimeStamp"], f["Seq"])


def build_answer(keys: Keys, ret: int, msg: str, data: dict[str, Any] | None
                 ) -> dict[str, Any]:
    """The answer body (rule 2); ``data`` None sends an empty ``Data``."""
    sealed = "" if data is None else encrypt(keys, dumps(data))
    return {"Ret": ret, "Msg": msg, "Data": sealed, "Sig": sign(keys, str(ret), msg, sealed)}


def parse_answer(keys: Keys, body: object) -> Answer:
    """An answer's code, message and data; ``EnvelopeError`` if it does not verify."""
    if not isinstance(body, dict) or not isinstance(body.get("Ret"), int) \
            or not isinstance(body.get("Msg", ""), str) \
            or not isinstance(body.get("Data", ""), str) or not isinstance(body.get("Sig"), str):
        raise EnvelopeError(BAD_ENVELOPE, "the answer is not {Ret, Msg, Data, Sig}")
    ret, msg, data = body["Ret"], body.get("Msg", ""), body.get("Data", "")
    if not hmac.compare_digest(sign(keys, str(ret), msg, data), body["Sig"]):
        raise EnvelopeError(BAD_SIGNATURE, "the answer's Sig does not verify")
    return Answer(ret, msg, _open(keys, data) if data else None)
