"""The in-process SSHSIG verifier (gitmv/git/sshsig.py) gives exactly the ssh-keygen path's verdict.

Each differential test signs with real `ssh-keygen -Y sign` and real keys of every supported type,
then compares `sshsig.check` (None = "ask ssh-keygen") with `signing.verify_ssh_keygen` (the
ssh-keygen path, called explicitly), and `signing.verify_detached` (what callers get) with both.
The allowed-signers parser, the time rule and ssh's pattern lists have unit tests of their own."""

from __future__ import annotations

import base64
import calendar
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitmv.git import signing, sshsig
from gitmv.git.signing import SignatureCheck

KEY_TYPES = {
    "ed25519": ["-t", "ed25519"],
    "ecdsa256": ["-t", "ecdsa", "-b", "256"],
    "ecdsa384": ["-t", "ecdsa", "-b", "384"],
    "ecdsa521": ["-t", "ecdsa", "-b", "521"],
    "rsa": ["-t", "rsa", "-b", "2048"],
}
PAYLOAD = b"object 1234\ntype commit\ntag mv/churn/v1\n\nchurn v1\n"
JAN_2030 = calendar.timegm((2030, 1, 1, 0, 0, 0))


class Keyring:
    """Two keys of each type: `<type>` is listed in allowed signers by the tests, `<type>-other` never."""

    def __init__(self, root: Path):
        self.root = root
        for name, args in KEY_TYPES.items():
            for suffix in ("", "-other"):
                subprocess.run(["ssh-keygen", "-q", *args, "-N", "", "-C", "", "-f", str(root / (name + suffix))],
                               check=True)

        self.signed = {name: self.sign(name) for name in KEY_TYPES}  # one signature each, for hypothesis

    def public(self, name: str) -> str:
        return " ".join((self.root / f"{name}.pub").read_text().split()[:2])

    def sign(self, name: str, payload: bytes = PAYLOAD, namespace: str = "git", hashalg: str | None = None) -> bytes:
        opts = ["-O", f"hashalg={hashalg}"] if hashalg else []
        proc = subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-n", namespace, *opts, "-f", str(self.root / name)],
                              input=payload, capture_output=True, check=True)
        return proc.stdout


@pytest.fixture(scope="module")
def ring(tmp_path_factory) -> Keyring:
    return Keyring(tmp_path_factory.mktemp("sshsig-keys"))


def both(payload: bytes, signature: bytes, allowed: str, *, namespace: str = "git", at: int | None = None):
    """(in-process verdict or None, the ssh-keygen path's SignatureCheck); also checks that what
    callers get is the ssh-keygen path's verdict either way."""
    ssh_allowed = signing._split_allowed(allowed.encode())[0]
    fast = sshsig.check(payload, signature, ssh_allowed, namespace=namespace, at=at)
    slow = signing.verify_ssh_keygen(payload, signature, ssh_allowed, namespace=namespace, at=at)
    assert signing.verify_detached(payload, signature, allowed.encode(), namespace=namespace, at=at) == slow
    return (None if fast is None else SignatureCheck(*fast, method="ssh")), slow


def same_in_process(payload: bytes, signature: bytes, allowed: str, **kw) -> SignatureCheck:
    fast, slow = both(payload, signature, allowed, **kw)
    assert fast == slow
    return slow


def falls_back(payload: bytes, signature: bytes, allowed: str, **kw) -> SignatureCheck:
    fast, slow = both(payload, signature, allowed, **kw)
    assert fast is None
    return slow


def line(ring: Keyring, name: str, principals: str = "alice@example.com", options: str = "") -> str:
    return f"{principals} {options + ' ' if options else ''}{ring.public(name)}\n"


# --- the differential matrix, over every supported key type -----------------------------------

@pytest.mark.parametrize("kind", KEY_TYPES)
def test_a_good_signature_is_ok_in_process_with_ssh_keygens_principal_and_fingerprint(ring, kind):
    result = same_in_process(PAYLOAD, ring.sign(kind), line(ring, kind, options='namespaces="git"'))
    assert result.ok and result.principal == "alice@example.com" and result.fingerprint.startswith("SHA256:")


@pytest.mark.parametrize("kind", KEY_TYPES)
def test_a_payload_changed_by_one_byte_is_left_to_ssh_keygen_which_calls_it_bad(ring, kind):
    changed = PAYLOAD.replace(b"v1", b"v2")
    result = falls_back(changed, ring.sign(kind), line(ring, kind))
    assert result == SignatureCheck(False, sshsig.BAD, "alice@example.com", None, "ssh")


@pytest.mark.parametrize("kind", KEY_TYPES)
def test_a_key_not_listed_is_named_by_its_fingerprint(ring, kind):
    result = same_in_process(PAYLOAD, ring.sign(f"{kind}-other"), line(ring, kind))
    assert result.reason == sshsig.NOT_ALLOWED and result.fingerprint.startswith("SHA256:")


@pytest.mark.parametrize("kind", KEY_TYPES)
def test_a_file_namespace_signature_is_bad_for_git(ring, kind):
    assert not same_in_process(PAYLOAD, ring.sign(kind, namespace="file"), line(ring, kind)).ok


def test_a_file_namespace_signature_of_an_unlisted_key_is_bad(ring):
    assert same_in_process(PAYLOAD, ring.sign("ed25519-other", namespace="file"),
                           line(ring, "ed25519")).reason == sshsig.BAD


def test_a_namespaces_option_that_excludes_git_makes_the_signature_bad(ring):
    result = same_in_process(PAYLOAD, ring.sign("ed25519"), line(ring, "ed25519", options='namespaces="file,ssh*"'))
    assert result == SignatureCheck(False, sshsig.BAD, "alice@example.com", None, "ssh")


@pytest.mark.parametrize("patterns", ["git", "g?t", "*", "file,git", "!file,*", "!git,*", "", "file"])
def test_namespaces_pattern_lists(ring, patterns):
    same_in_process(PAYLOAD, ring.sign("ecdsa256"), line(ring, "ecdsa256", options=f'namespaces="{patterns}"'))


@pytest.mark.parametrize("principals", ["*", "*@example.com", "a@x,b@y", "!bad@x,*", "?lice@example.com",
                                        ",alice@example.com", "!alice@example.com", "!a*,alice@example.com",
                                        "alice@example.com,", "alice@example.com,!alice@example.com"])
def test_principal_patterns_give_ssh_keygens_principal(ring, principals):
    same_in_process(PAYLOAD, ring.sign("ed25519"), line(ring, "ed25519", principals))


@pytest.mark.parametrize("options", ['valid-after="20200101"', 'valid-after="20200101Z"',
                                     'valid-before="20290101"', 'valid-before="202901010000Z"',
                                     'valid-after="20290101",valid-before="20310101120000UTC"',
                                     'valid-after="20300101000001Z"', 'valid-before="20291231235959Z"',
                                     'valid-after="20300101000000Z"', 'valid-before="20300101000000Z"'])
@pytest.mark.parametrize("at", [JAN_2030, None])
def test_validity_windows_against_at_and_now(ring, options, at):
    same_in_process(PAYLOAD, ring.sign("ed25519"), line(ring, "ed25519", options=options), at=at)


def test_local_times_follow_the_processes_time_zone(ring, monkeypatch):
    """Without Z/UTC, ssh-keygen reads valid-after in local time (mktime, no daylight saving)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        summer = calendar.timegm((2030, 7, 1, 3, 30, 0))  # 23:30 on June 30th in New York (EDT)
        for value in ("20300630", "203006302230", "203006302231", "203006302330", "20300701"):
            same_in_process(PAYLOAD, ring.sign("ed25519"), line(ring, "ed25519", options=f'valid-after="{value}"'),
                            at=summer)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_the_first_line_holding_the_key_names_the_principal_and_any_matching_line_may_allow_it(ring):
    allowed = (line(ring, "rsa", "alice@example.com", 'namespaces="file"')
               + line(ring, "rsa", "alice@example.com", 'namespaces="git"'))
    assert same_in_process(PAYLOAD, ring.sign("rsa"), allowed).ok


def test_a_second_line_for_another_principal_does_not_rescue_the_first(ring):
    allowed = line(ring, "rsa", "alice@example.com", 'namespaces="file"') + line(ring, "rsa", "bob@example.com")
    assert not same_in_process(PAYLOAD, ring.sign("rsa"), allowed).ok


def test_an_expired_first_line_passes_the_principal_to_the_next(ring):
    allowed = (line(ring, "ecdsa384", "old@example.com", 'valid-before="20200101Z"')
               + line(ring, "ecdsa384", "new@example.com"))
    assert same_in_process(PAYLOAD, ring.sign("ecdsa384"), allowed).principal == "new@example.com"


def test_comments_blank_lines_and_key_comments_are_ignored(ring):
    allowed = ("# team keys\n\n   \n\t# indented comment\n"
               + line(ring, "ecdsa521").rstrip("\n") + " alice's laptop\n" + "carol@example.com gpg:ABCDEF\n")
    assert same_in_process(PAYLOAD, ring.sign("ecdsa521"), allowed).ok


def test_a_cert_authority_line_is_left_to_ssh_keygen(ring):
    allowed = line(ring, "ed25519-other", "*@example.com", "cert-authority") + line(ring, "ed25519")
    assert falls_back(PAYLOAD, ring.sign("ed25519"), allowed).ok


@pytest.mark.parametrize("text", ['alice@example.com namespaces="git",nope="x" {key}',
                                  'alice@example.com NAMESPACES="git" {key}',
                                  '"alice smith" {key}',
                                  'alice@example.com sk-ssh-ed25519@openssh.com AAAAC3NzaC1lZDI1NTE5AAAAIA==',
                                  'alice@example.com valid-after="2030-01-01" {key}'])
def test_lines_it_does_not_fully_understand_are_left_to_ssh_keygen(ring, text):
    falls_back(PAYLOAD, ring.sign("ed25519"), text.format(key=ring.public("ed25519")) + "\n")


def _blob(signature: bytes) -> bytes:
    return base64.b64decode(b"".join(signature.splitlines()[1:-1]))


def _armor(blob: bytes) -> bytes:
    text = base64.b64encode(blob)
    return (sshsig.BEGIN + b"\n".join(text[i:i + 70] for i in range(0, len(text), 70))
            + sshsig.END + b"\n")


@pytest.mark.parametrize("mangle", [
    lambda s: b"garbage",
    lambda s: s.replace(b"-----BEGIN SSH SIGNATURE-----", b"-----BEGIN SSH SIGNATUR-----"),
    lambda s: _armor(_blob(s)[:-10]),
    lambda s: _armor(b"SSHSIH" + _blob(s)[6:]),
    lambda s: _armor(_blob(s) + b"\0"),
    lambda s: s[:40] + b"*" + s[41:],
], ids=["garbage", "header", "truncated", "magic", "trailing", "base64"])
def test_broken_signatures_are_left_to_ssh_keygen(ring, mangle):
    assert not falls_back(PAYLOAD, mangle(ring.sign("ed25519")), line(ring, "ed25519")).ok


@pytest.mark.parametrize("hashalg", ["sha256", "sha512"])
@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa256"])
def test_both_hash_algorithms(ring, kind, hashalg):
    assert same_in_process(PAYLOAD, ring.sign(kind, hashalg=hashalg), line(ring, kind)).ok


def test_the_empty_payload(ring):
    assert same_in_process(b"", ring.sign("ed25519", payload=b""), line(ring, "ed25519")).ok


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_byte_flip_in_the_blob_gets_ssh_keygens_verdict(ring, data):
    kind = data.draw(st.sampled_from(sorted(KEY_TYPES)))
    blob = bytearray(_blob(ring.signed[kind]))
    where = data.draw(st.integers(0, len(blob) - 1))
    blob[where] ^= data.draw(st.integers(1, 255))
    fast, slow = both(PAYLOAD, _armor(bytes(blob)), line(ring, kind))
    assert fast is None or fast == slow
    assert not (fast and fast.ok)


# --- the parts, without ssh-keygen -------------------------------------------------------------

def test_parse_line_reads_principals_options_and_key(ring):
    signer = sshsig.parse_line(line(ring, "ed25519", "a@x,b@y",
                                    'namespaces="git",valid-after="20300101Z",valid-before="20310101Z"')
                                .rstrip("\n").encode())
    assert signer is not None
    assert (signer.principals, signer.namespaces, signer.valid_after, signer.valid_before) == \
        ("a@x,b@y", "git", JAN_2030, calendar.timegm((2031, 1, 1, 0, 0, 0)))


@pytest.mark.parametrize("text", [b"", b"   ", b"# comment", b"\t# comment"])
def test_blank_and_comment_lines_hold_no_signer(text):
    assert sshsig.parse_line(text) is None


@pytest.mark.parametrize("options", ['cert-authority', 'namespaces="git",namespaces="file"', 'namespaces=git',
                                     'namespaces="git",', 'valid-after="20310101Z",valid-before="20300101Z"',
                                     'valid-after="20301301"', 'valid-after="0"', 'no-touch-required'])
def test_options_outside_the_subset_are_unsure(ring, options):
    with pytest.raises(sshsig.Unsure):
        sshsig.parse_line(line(ring, "ed25519", options=options).rstrip("\n").encode())


def test_parse_time_utc_and_local():
    assert sshsig.parse_time("20300101") == int(time.mktime((2030, 1, 1, 0, 0, 0, 0, 0, 0)))
    assert sshsig.parse_time("203001010102z") == JAN_2030 + 3720
    assert sshsig.parse_time("20300101000003utc") == JAN_2030 + 3


@pytest.mark.parametrize("string,patterns,expected", [
    ("git", "git", 1), ("git", "file", 0), ("git", "*", 1), ("git", "g?t", 1), ("git", "gi", 0),
    ("git", "!git,*", -1), ("git", "*,!git", -1), ("a@x", "a@x,b@y", 1), ("a@x,b@y", "a@x,b@y", 0),
    ("!bad@x", "!bad@x,*", 1), ("", "", 0), ("", "a,", 0), ("", ",a", 1), ("", "!", -1), ("x", "!", 0), ("x.y", "x?y", 1), ("x", "x*", 1), ("x", "*x*", 1),
])
def test_match_pattern_list(string, patterns, expected):
    assert sshsig.match_pattern_list(string, patterns) == expected


def test_the_fingerprint_is_ssh_keygens(ring):
    blob = base64.b64decode(ring.public("rsa").split()[1])
    out = subprocess.run(["ssh-keygen", "-lf", str(ring.root / "rsa.pub")], capture_output=True, text=True).stdout
    assert sshsig.parse_key(blob).fingerprint == out.split()[1]
