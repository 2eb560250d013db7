"""SSH signatures (SSHSIG) checked in-process, with exactly the verdict of the ssh-keygen path.

`signing.verify_detached` asks ssh-keygen `-Y find-principals` (which line lists the signing key),
then `-Y verify -I <first principal of that line>` (or `-Y check-novalidate` when no line does).
That is two or three processes and a handful of temp files per signature; `check` reproduces the
same two-step decision here, following OpenSSH 9.2's sshsig.c, sshkey.c, misc.c and match.c:

- armor and blob: `-----BEGIN SSH SIGNATURE-----`, "SSHSIG", version, public key, namespace,
  reserved, hash algorithm (sha256/sha512), signature; the signed data is "SSHSIG" ||
  string(namespace) || string("") || string(hash alg) || string(H(message)) (ssh-keygen signs and
  checks an empty reserved field whatever the blob carries);
- keys ssh-ed25519, ecdsa-sha2-nistp256/384/521 and ssh-rsa with rsa-sha2-256/512 signatures;
- allowed signers lines `principals [namespaces="..."][,valid-after="..."][,valid-before="..."] key
  [comment]`, comments and blank lines; principals and namespaces are ssh pattern lists (`*`, `?`,
  `!`), times YYYYMMDD[HHMM[SS]] in local time (mktime, tm_isdst = 0) or with a Z/UTC suffix in UTC.

It is a strict subset. Whatever it does not fully understand raises `Unsure` and `check` returns
None, so the caller asks ssh-keygen: certificates and `cert-authority`, sk-* and other key types,
other options, quoted or non-ASCII principals, non-canonical base64 or encodings, odd times, and
every signature whose mathematics does not verify (then ssh-keygen says what is wrong with it).
So an in-process "ok" needs a signature that verifies under OpenSSL for a key that ssh-keygen would
also accept; ssh-keygen never says no where this says yes. tests/git/test_sshsig.py compares both
paths on real ssh-keygen signatures.

`cryptography` is imported only when a signature's mathematics is checked (hook start-up).
"""

from __future__ import annotations

import base64
import calendar
import datetime
import hashlib
import os
import re
import struct
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

BAD = "bad signature (the content does not match it)"
NOT_ALLOWED = "signed by a key not in allowed signers"

# (ok, reason, principal, fingerprint): the fields of signing.SignatureCheck for method "ssh"
Verdict = tuple[bool, str, str | None, str | None]

BEGIN = b"-----BEGIN SSH SIGNATURE-----\n"
END = b"\n-----END SSH SIGNATURE-----"
HASHES = {b"sha256": hashlib.sha256, b"sha512": hashlib.sha512}
# orders of the NIST curves (openssl ecparam -param_enc explicit): sshkey_ec_validate_public bounds
CURVES = {
    "nistp256": (32, "sha256", int("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16)),
    "nistp384": (48, "sha384", int("ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf"
                                   "581a0db248b0a77aecec196accc52973", 16)),
    "nistp521": (66, "sha512", int("01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
                                   "fa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409", 16)),
}
RSA_SIGS = {"rsa-sha2-256": "sha256", "rsa-sha2-512": "sha512"}
# DER DigestInfo prefixes: ssh's openssh_RSA_verify compares the decrypted block with prefix || hash
DIGEST_INFO = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}
KEY_TYPES = {"ssh-ed25519", "ssh-rsa", *(f"ecdsa-sha2-{c}" for c in CURVES)}
# a principal or option byte we are sure ssh-keygen reads as we do: printable ASCII, no quote
PRINCIPALS_RE = re.compile(r"[!#-~]+")
OPTION_RE = re.compile(r'(namespaces|valid-after|valid-before)="([!#-\[\]-~]*)"')
TIME_RE = re.compile(r"(\d{8}|\d{12}|\d{14})([Zz]|[Uu][Tt][Cc])?")
SAFE_TEXT_RE = re.compile(r"[!-~]+")


class Unsure(Exception):
    """Outside the subset this module reproduces exactly: ssh-keygen decides."""


@dataclass(frozen=True)
class Key:
    type: str
    blob: bytes  # canonical wire form (what ssh-keygen fingerprints and compares)
    params: tuple[Any, ...]  # ed25519: (pk,); ecdsa: (curve, point); rsa: (e, n)

    @property
    def fingerprint(self) -> str:
        return "SHA256:" + base64.b64encode(hashlib.sha256(self.blob).digest()).decode().rstrip("=")


@dataclass(frozen=True)
class Signer:
    """One allowed-signers line ssh-keygen would parse as well."""
    principals: str
    key: bytes  # Key.blob
    namespaces: str | None = None
    valid_after: int = 0
    valid_before: int = 0

    def valid_at(self, when: int) -> bool:
        return not ((self.valid_after and when < self.valid_after) or (self.valid_before and when > self.valid_before))


@dataclass(frozen=True)
class Sshsig:
    key: Key
    namespace: bytes
    hashalg: bytes
    sigtype: str
    sig: bytes


# --- wire format ------------------------------------------------------------------------------

class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise Unsure("truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def string(self) -> bytes:
        return self.take(self.u32())

    def text(self) -> str:
        raw = self.string()
        if not SAFE_TEXT_RE.fullmatch(raw.decode("latin-1")):
            raise Unsure("unexpected bytes in a name")
        return raw.decode()

    def mpint(self) -> int:
        raw = self.string()
        if raw and (raw[0] & 0x80 or (raw[0] == 0 and (len(raw) == 1 or not raw[1] & 0x80))):
            raise Unsure("non-canonical mpint")
        return int.from_bytes(raw, "big")

    def end(self) -> None:
        if self.pos != len(self.data):
            raise Unsure("trailing data")


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _mpint(n: int) -> bytes:
    return _string(n.to_bytes(n.bit_length() // 8 + 1, "big") if n else b"")


@lru_cache(maxsize=256)
def parse_key(blob: bytes) -> Key:
    """A public key blob, validated as sshkey_from_blob does; the others raise Unsure."""
    r = _Reader(blob)
    ktype = r.text()
    if ktype == "ssh-ed25519":
        pk = r.string()
        r.end()
        if len(pk) != 32:
            raise Unsure("ed25519 key size")
        return Key(ktype, _string(ktype.encode()) + _string(pk), (pk,))
    if ktype.startswith("ecdsa-sha2-") and ktype[11:] in CURVES:
        curve = ktype[11:]
        size, _, order = CURVES[curve]
        if r.text() != curve:
            raise Unsure("curve does not match the key type")
        point = r.string()
        r.end()
        if len(point) != 1 + 2 * size or point[0] != 4:
            raise Unsure("not an uncompressed point")
        x, y = int.from_bytes(point[1:1 + size], "big"), int.from_bytes(point[1 + size:], "big")
        half = order.bit_length() // 2
        if x.bit_length() <= half or y.bit_length() <= half or x >= order - 1 or y >= order - 1:
            raise Unsure("a point sshkey_ec_validate_public refuses")
        return Key(ktype, _string(ktype.encode()) + _string(curve.encode()) + _string(point), (curve, point))
    if ktype == "ssh-rsa":
        e, n = r.mpint(), r.mpint()
        r.end()
        if not 1024 <= n.bit_length() <= 16384 or e < 3 or not e & 1 or not n & 1 or e >= n:
            raise Unsure("an RSA key outside ssh-keygen's and OpenSSL's common ground")
        return Key(ktype, _string(ktype.encode()) + _mpint(e) + _mpint(n), (e, n))
    raise Unsure(f"key type {ktype}")


def dearmor(armored: bytes) -> bytes:
    """The SSHSIG blob of an armored signature, when it is in canonical form."""
    if not armored.startswith(BEGIN):
        raise Unsure("no armor header")
    body = armored[len(BEGIN):]
    cut = body.find(END)
    if cut < 0:
        raise Unsure("no armor footer")
    text = body[:cut].replace(b"\n", b"")
    try:
        blob = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise Unsure("base64") from exc
    if base64.b64encode(blob) != text:
        raise Unsure("non-canonical base64")
    return blob


def parse_signature(armored: bytes) -> Sshsig:
    r = _Reader(dearmor(armored))
    if r.take(6) != b"SSHSIG" or r.u32() != 1:
        raise Unsure("magic or version")
    key = parse_key(r.string())
    namespace, _reserved, hashalg, sig = r.string(), r.string(), r.string(), r.string()
    r.end()
    if hashalg not in HASHES or b"\0" in namespace:
        raise Unsure("hash algorithm or namespace")
    s = _Reader(sig)
    sigtype, inner = s.text(), s.string()
    s.end()
    return Sshsig(key, namespace, hashalg, sigtype, inner)


# --- allowed signers --------------------------------------------------------------------------

def parse_time(value: str) -> int:
    """parse_absolute_time: local time as mktime with tm_isdst = 0, or UTC with Z/UTC."""
    m = TIME_RE.fullmatch(value)
    if not m:
        raise Unsure(f"time {value!r}")
    digits = m.group(1) + "0" * (14 - len(m.group(1)))
    parts = (int(digits[0:4]), int(digits[4:6]), int(digits[6:8]), int(digits[8:10]), int(digits[10:12]),
             int(digits[12:14]))
    try:
        datetime.datetime(*parts)  # strptime/mktime normalise what datetime refuses: leave those to ssh-keygen
        when = calendar.timegm((*parts, 0, 0, 0)) if m.group(2) else int(time.mktime((*parts, 0, 0, 0)))
    except (ValueError, OverflowError) as exc:
        raise Unsure(f"time {value!r}") from exc
    if when <= 0:
        raise Unsure(f"time {value!r}")
    return when


def _options(token: str) -> dict[str, str]:
    found: dict[str, str] = {}
    pos = 0
    while True:
        m = OPTION_RE.match(token, pos)
        if not m or m.group(1) in found:
            raise Unsure(f"options {token!r}")
        found[m.group(1)] = m.group(2)
        pos = m.end()
        if pos == len(token):
            return found
        if token[pos] != "," or pos + 1 == len(token):
            raise Unsure(f"options {token!r}")
        pos += 1


def parse_line(line: bytes) -> Signer | None:
    """One line as ssh-keygen's parse_principals_key_and_options reads it; None for blank/comment."""
    text = line.decode("latin-1").lstrip(" \t")
    if not text or text.startswith("#"):
        return None
    fields = re.split(r"[ \t]+", text, maxsplit=2)
    if len(fields) < 3 or not PRINCIPALS_RE.fullmatch(fields[0]):
        raise Unsure("line shape")
    principals, rest = fields[0], fields[1:]
    opts: dict[str, str] = {}
    if rest[0] not in KEY_TYPES:
        opts = _options(rest[0])
        rest = re.split(r"[ \t]+", rest[1], maxsplit=1)
    if len(rest) < 2:
        raise Unsure("line shape")
    ktype, blob_b64 = rest[0], re.split(r"[ \t]", rest[1], maxsplit=1)[0]
    if ktype not in KEY_TYPES:
        raise Unsure(f"key type {ktype}")
    try:
        blob = base64.b64decode(blob_b64, validate=True)
    except ValueError as exc:
        raise Unsure("key base64") from exc
    if base64.b64encode(blob).decode() != blob_b64:
        raise Unsure("non-canonical key base64")
    key = parse_key(blob)
    if key.type != ktype:
        raise Unsure("key type does not match the blob")
    after = parse_time(opts["valid-after"]) if "valid-after" in opts else 0
    before = parse_time(opts["valid-before"]) if "valid-before" in opts else 0
    if after and before and before <= after:
        raise Unsure("valid-before not after valid-after")
    namespaces = opts.get("namespaces")
    if namespaces is not None and any(len(p) >= 1000 for p in namespaces.split(",")):
        raise Unsure("long pattern")
    return Signer(principals, key.blob, namespaces, after, before)


@lru_cache(maxsize=16)
def _parse_allowed(allowed: bytes, tz: str | None) -> tuple[Signer, ...] | None:
    """Cached per file and time zone (local valid-after/valid-before depend on TZ)."""
    try:
        return parse_allowed(allowed)
    except Unsure:
        return None


def parse_allowed(allowed: bytes) -> tuple[Signer, ...]:
    """The allowed signers file as ssh-keygen reads it (getline: lines end at \\n only)."""
    if b"\0" in allowed or b"\r" in allowed:
        raise Unsure("NUL or CR in allowed signers")
    return tuple(s for s in map(parse_line, allowed.split(b"\n")) if s is not None)


# --- patterns (match.c) -----------------------------------------------------------------------

@lru_cache(maxsize=1024)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.S)


def match_pattern_list(string: str, patterns: str) -> int:
    """match_pattern_list(string, patterns, 0): 1 positive, -1 negated match, 0 no match."""
    positive, i = 0, 0
    while i < len(patterns):  # as match.c walks it: a trailing comma adds no empty subpattern
        negated = patterns[i] == "!"
        i += negated
        end = patterns.find(",", i)
        end = len(patterns) if end < 0 else end
        sub, i = patterns[i:end], end + 1
        if len(sub) >= 1023:
            raise Unsure("long pattern")
        if _pattern(sub).fullmatch(string):
            if negated:
                return -1
            positive = 1
    return positive


# --- the signature's mathematics --------------------------------------------------------------

# Each key type imports only its own parts of `cryptography`: most keys are ed25519, and the ec,
# rsa and padding modules are ~1.5 ms of every cold read's and every push's start-up.

@lru_cache(maxsize=256)
def _public_key(key: Key) -> Any:
    if key.type == "ssh-ed25519":
        from cryptography.hazmat.primitives.asymmetric import ed25519

        return ed25519.Ed25519PublicKey.from_public_bytes(key.params[0])
    if key.type == "ssh-rsa":
        from cryptography.hazmat.primitives.asymmetric import rsa

        return rsa.RSAPublicNumbers(*key.params).public_key()
    from cryptography.hazmat.primitives.asymmetric import ec

    curves: dict[str, ec.EllipticCurve] = {"nistp256": ec.SECP256R1(), "nistp384": ec.SECP384R1(),
                                           "nistp521": ec.SECP521R1()}
    return ec.EllipticCurvePublicKey.from_encoded_point(curves[key.params[0]], key.params[1])


def verifies(sig: Sshsig, data: bytes) -> bool:
    """Does the signature verify over `data`? True only when OpenSSL says so for the exact encoding
    ssh-keygen accepts; an encoding ssh-keygen might read differently raises Unsure."""
    try:
        from cryptography.exceptions import InvalidSignature

        public = _public_key(sig.key)
    except ImportError as exc:
        raise Unsure("cryptography is not importable") from exc
    except ValueError as exc:  # a point or modulus OpenSSL refuses
        raise Unsure(str(exc)) from exc
    ktype = sig.key.type
    try:
        if ktype == "ssh-ed25519":
            if sig.sigtype != ktype or len(sig.sig) != 64:
                raise Unsure("ed25519 signature shape")
            public.verify(sig.sig, data)
        elif ktype.startswith("ecdsa-"):
            if sig.sigtype != ktype:
                raise Unsure("ecdsa signature type")
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import ec
            from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

            inner = _Reader(sig.sig)
            r, s = inner.mpint(), inner.mpint()
            inner.end()
            hash_name = CURVES[sig.key.params[0]][1]
            public.verify(encode_dss_signature(r, s), data, ec.ECDSA(getattr(hashes, hash_name.upper())()))
        else:
            hash_name = RSA_SIGS.get(sig.sigtype, "")
            modlen = (sig.key.params[1].bit_length() + 7) // 8
            if not hash_name or len(sig.sig) != modlen:
                raise Unsure("rsa signature type or size")
            from cryptography.hazmat.primitives.asymmetric import padding

            block = public.recover_data_from_signature(sig.sig, padding.PKCS1v15(), None)
            if block != DIGEST_INFO[hash_name] + hashlib.new(hash_name, data).digest():
                return False
    except InvalidSignature:
        return False
    except ImportError as exc:  # a key type's own parts (imported where used, above)
        raise Unsure("cryptography is not importable") from exc
    return True


def signed_data(namespace: bytes, hashalg: bytes, payload: bytes) -> bytes:
    return (b"SSHSIG" + _string(namespace) + _string(b"") + _string(hashalg)
            + _string(HASHES[hashalg](payload).digest()))


# --- the decision -----------------------------------------------------------------------------

def _verify_time(at: int | float | None) -> int:
    if at is None:
        return int(time.time())
    # the ssh-keygen path passes -Overify-time=YYYYmmddHHMMSSZ; 0 and years past 9999 make it fail
    if not 1 <= at < 253402300800:
        raise Unsure("verify time")
    return int(at)


def check(payload: bytes, signature: bytes, allowed: bytes, *, namespace: str = "git",
          at: int | float | None = None) -> Verdict | None:
    """ssh-keygen's verdict (find-principals, then verify or check-novalidate), or None to ask it."""
    try:
        return _check(payload, signature, allowed, namespace, at)
    except Unsure:
        return None


def _check(payload: bytes, signature: bytes, allowed: bytes, namespace: str, at: int | float | None) -> Verdict:
    if not SAFE_TEXT_RE.fullmatch(namespace) or "SHA256:" in namespace:
        raise Unsure("namespace")
    signers = _parse_allowed(allowed, os.environ.get("TZ"))
    if signers is None:
        raise Unsure("allowed signers")
    sig = parse_signature(signature)
    when = _verify_time(at)
    # find-principals: the principals of the first line holding the key and valid at `when`,
    # printed one per line; the caller takes the first word of that output
    line = next((s for s in signers if s.key == sig.key.blob and s.valid_at(when)), None)
    principal = line.principals.split(",")[0] if line else ""
    expected = namespace.encode()
    if not principal:  # check-novalidate
        if sig.namespace != expected:
            return (False, BAD, None, None)
        if not verifies(sig, signed_data(expected, sig.hashalg, payload)):
            raise Unsure("let ssh-keygen tell what is wrong with the signature")
        return (False, NOT_ALLOWED, None, sig.key.fingerprint)
    if "SHA256:" in principal:  # the caller reads the fingerprint from text that holds the principal
        raise Unsure("principal")
    if sig.namespace != expected:
        return (False, BAD, principal, None)
    if not verifies(sig, signed_data(expected, sig.hashalg, payload)):
        raise Unsure("let ssh-keygen tell what is wrong with the signature")
    # verify -I principal: any line whose principals match it, holding the key, allowing the
    # namespace, valid at `when`
    for s in signers:
        if (s.key == sig.key.blob and match_pattern_list(principal, s.principals) == 1
                and (s.namespaces is None or match_pattern_list(namespace, s.namespaces) == 1)
                and s.valid_at(when)):
            return (True, "", principal, sig.key.fingerprint)
    return (False, BAD, principal, None)
