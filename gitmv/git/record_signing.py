"""Writing evidence records (eval, approval, deprecation, reproduction, …): one home for
building a note record, so every writer signs it the same way.

A record is evidence only when it carries `signature`, made with the writer's git signing key over
`records.record_payload`, and `by` is the principal that key has in the allowed signers. The
principal is found by signing a probe and asking the allowed signers who signed it, so `by` is
what a reader will recompute, never the typed user name.
"""

from __future__ import annotations

from functools import cached_property

from gitmv import records
from gitmv.errors import SigningError
from gitmv.git import signing
from gitmv.git.repo import Repo

FIX_SIGNING = ("set up signing with a key listed in the policy's allowed_signers: "
               "git config gpg.format ssh; git config user.signingkey ~/.ssh/id_ed25519.pub")


def _sign(repo: Repo, payload: bytes) -> bytes:
    return signing.sign_payload(payload, fmt=repo.config("gpg.format"), signing_key=repo.config("user.signingkey"),
                                ssh_program=repo.config("gpg.ssh.program"), gpg_program=repo.config("gpg.program"))


def signer_principal(repo: Repo, allowed_signers: bytes | None) -> str | None:
    """The principal the user's signing key has in `allowed_signers`, or None."""
    probe = records.RECORD_SIG_DOMAIN + b"probe"
    check = signing.verify_detached(probe, _sign(repo, probe), allowed_signers)
    return check.principal if check.ok else None


class Signer:
    """The user's signing setup for one command. Finding the principal signs a probe, so it is
    done at most once however many records and tags the command signs."""

    def __init__(self, repo: Repo, allowed_signers: bytes | None):
        self.repo = repo
        self.allowed_signers = allowed_signers
        self.key = repo.config("user.signingkey")

    @cached_property
    def principal(self) -> str | None:
        return signer_principal(self.repo, self.allowed_signers) if self.key else None

    def by(self) -> str:
        """`by` of what the user signs: the principal (what readers recompute from the signature),
        else the typed identity."""
        return self.principal or self.repo.identity()


def new_record(repo: Repo, kind: str, body: dict, *, at: str, allowed_signers: bytes | None,
               signed: bool, warnings: list | None = None, signer: Signer | None = None) -> dict:
    """A note record with its id, signed by the user's key. `signed` (every tier but research)
    makes a missing signing setup an error; an unsigned record would not count as evidence.
    Pass the command's `signer` when it signs more than one thing."""
    signer = signer or Signer(repo, allowed_signers)
    if not signer.key:
        if signed:
            raise SigningError(f"cannot sign the {kind} record: no signing key configured", FIX_SIGNING)
        return records.make_note_record(kind, body, at=at, by=repo.identity())
    if signer.principal is None and warnings is not None:
        warnings.append(f"your signing key is not in the allowed signers: this {kind} record will not count as "
                        "evidence — " + FIX_SIGNING)
    rec = records.make_note_record(kind, body, at=at, by=signer.by())
    return {**rec, "signature": _sign(repo, records.record_payload(rec)).decode()}


def verify_record(rec: dict, allowed_signers: bytes | None) -> signing.SignatureCheck:
    """Who signed an evidence record: ok only when its signature verifies against the allowed
    signers and the principal is the record's `by` (a typed name is never identity). The one
    definition the server hook and every reader use."""
    sig = rec.get("signature")
    if not isinstance(sig, str) or not sig:
        return signing.SignatureCheck(False, "unsigned")
    check = signing.verify_detached(records.record_payload(rec), sig.encode(), allowed_signers)
    if check.ok and check.principal != rec.get("by"):
        return signing.SignatureCheck(False, f"signed by {check.principal}, but the record claims by = {rec.get('by')!r}",
                                      check.principal, check.fingerprint, check.method)
    return check
