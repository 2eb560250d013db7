"""DSSE envelopes signed with an elliptic-curve key: the standard signature over the
pre-authentication encoding, which any DSSE tool checks with the signer's public key.

`cryptography` is imported here only (the `attest` extra), never at start-up.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitmv.errors import MvError

PAYLOAD_TYPE = "application/vnd.in-toto+json"
KEY_CONFIG = "mv-promote.attestKey"
MAKE_KEY = "openssl ecparam -genkey -name prime256v1 -noout -out attest-key.pem"
_HASHES = {256: "SHA256", 384: "SHA384", 521: "SHA512"}  # the curve's matching hash, as model_signing uses


def _crypto():
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError:
        raise MvError("attestations need the 'cryptography' library",
                      "pip install 'git-mv-promote[attest]'") from None
    return hashes, serialization, ec


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


@dataclass(frozen=True)
class SigningKey:
    private: Any
    public_pem: bytes

    @property
    def keyid(self) -> str:
        """sha256 of the public key's PEM: the hint model_signing records for a key, used as DSSE keyid too."""
        return hashlib.sha256(self.public_pem).hexdigest()


def load_key(path: str | Path) -> SigningKey:
    hashes, serialization, ec = _crypto()
    p = Path(path).expanduser()
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise MvError(f"cannot read the attestation key {p}: {exc.strerror}",
                         f"make one: {MAKE_KEY}") from None
    try:
        key = serialization.load_pem_private_key(raw, None)
    except (ValueError, TypeError) as exc:
        raise MvError(f"{p} is not an unencrypted PEM private key ({str(exc).splitlines()[0]})",
                         f"make one: {MAKE_KEY}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.key_size not in _HASHES:
        raise MvError(f"{p} is not an elliptic-curve key on P-256, P-384 or P-521",
                         f"make one: {MAKE_KEY}")
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return SigningKey(key, pem)


def _hash_for(key: Any):
    hashes, _, _ = _crypto()
    return getattr(hashes, _HASHES[key.curve.key_size])()


def sign(payload: bytes, key: SigningKey, payload_type: str = PAYLOAD_TYPE) -> dict[str, Any]:
    """A DSSE envelope (JSON form: base64 payload and signatures)."""
    _, _, ec = _crypto()
    sig = key.private.sign(pae(payload_type, payload), ec.ECDSA(_hash_for(key.private)))
    return {"payloadType": payload_type, "payload": base64.b64encode(payload).decode(),
            "signatures": [{"keyid": key.keyid, "sig": base64.b64encode(sig).decode()}]}


def sign_statement(statement: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    return sign(json.dumps(statement, indent=2, sort_keys=True).encode() + b"\n", key)


def verify(envelope: dict[str, Any], public_pem: bytes | str) -> tuple[bool, str, dict | None]:
    """(ok, reason, statement): some signature verifies with the key, and the payload is JSON."""
    _, serialization, ec = _crypto()
    from cryptography.exceptions import InvalidSignature

    try:
        pub = serialization.load_pem_public_key(public_pem.encode() if isinstance(public_pem, str) else public_pem)
        payload = base64.b64decode(envelope["payload"], validate=True)
        kind = envelope["payloadType"]
        sigs = [base64.b64decode(s["sig"], validate=True) for s in envelope["signatures"]]
    except (ValueError, KeyError, TypeError) as exc:
        return False, f"not a DSSE envelope ({exc})", None
    if not isinstance(pub, ec.EllipticCurvePublicKey) or pub.curve.key_size not in _HASHES:
        return False, "the public key is not an elliptic-curve key on P-256, P-384 or P-521", None
    for sig in sigs:
        try:
            pub.verify(sig, pae(kind, payload), ec.ECDSA(_hash_for(pub)))
        except InvalidSignature:
            continue
        try:
            statement = json.loads(payload)
        except ValueError:
            return False, "the signed payload is not JSON", None
        return True, "ok", statement
    return False, "no signature verifies with the public key", None
