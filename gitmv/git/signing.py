"""Signature checks through ssh-keygen (and gpg), independent of any git configuration.

Signing itself is done by `git tag -s` (see `Repo.create_tag`), so the user's own git signing
setup is used. Verification reads the raw tag object and asks ssh-keygen directly, with the
allowed-signers file taken from the policy (the protected branch on a server): this works the same
inside a server hook, where no user configuration exists and `GIT_*` variables must not leak.
ssh signatures are checked in-process by `sshsig.check` when it can give exactly ssh-keygen's
verdict, and by ssh-keygen (`verify_ssh_keygen`) otherwise.

Allowed signers use the ssh-keygen format. A gpg key may be allowed with a line
`<principal> gpg:<FINGERPRINT>`; ssh-keygen never sees those lines.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitmv import proc as procs
from gitmv.records import SIG_MARKERS

FPR_RE = re.compile(r"(SHA256:[A-Za-z0-9+/=]+)")


@dataclass(frozen=True)
class SignatureCheck:
    ok: bool
    reason: str  # "" when ok; else why not, e.g. "unsigned", "signed by a key not in allowed signers"
    principal: str | None = None
    fingerprint: str | None = None
    method: str | None = None  # "ssh" | "gpg"

    def to_dict(self) -> dict[str, Any]:
        """dataclasses.asdict's result (flat fields: a copy of the instance dict), at a tenth of its cost."""
        return dict(vars(self))


def split_signed_object(raw: bytes) -> tuple[bytes, bytes]:
    """Split a raw tag object into (signed payload, signature block)."""
    cut = -1
    for marker in SIG_MARKERS:
        pos = raw.rfind(b"\n" + marker)
        if pos > cut:
            cut = pos + 1
    if cut < 0:
        return raw, b""
    return raw[:cut], raw[cut:]


def _run(args: list[str], stdin: bytes | None = None) -> procs.Completed:
    """ssh-keygen and gpg see no GIT_* variable: they need none, and a hook must leak none."""
    return procs.run(args, input=stdin, env=procs.git_free_env(), timeout=60)


def _split_allowed(allowed: bytes) -> tuple[bytes, dict[str, str]]:
    ssh_lines, gpg = [], {}
    for line in allowed.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].startswith("gpg:"):
            gpg[parts[1][4:].upper()] = parts[0]
        else:
            ssh_lines.append(line)
    return ("\n".join(ssh_lines) + "\n").encode(), gpg


def verify_signature(raw: bytes, allowed_signers: bytes | None, at: int | None = None) -> SignatureCheck:
    """A signed tag object: the signature block is the end of the message."""
    payload, signature = split_signed_object(raw)
    return verify_detached(payload, signature, allowed_signers, at=at)


def split_signed_commit(raw: bytes) -> tuple[bytes, bytes]:
    """Split a raw commit object into (signed payload, signature): git signs the commit without its
    `gpgsig` header (a multi-line header whose continuation lines start with a space)."""
    head, sep, body = raw.partition(b"\n\n")
    payload_lines: list[bytes] = []
    sig_lines: list[bytes] = []
    in_sig = False
    for line in head.split(b"\n"):
        if line.startswith(b"gpgsig "):
            in_sig = True
            sig_lines.append(line[len(b"gpgsig "):])
        elif in_sig and line.startswith(b" "):
            sig_lines.append(line[1:])
        else:
            in_sig = False
            payload_lines.append(line)
    if not sig_lines:
        return raw, b""
    return b"\n".join(payload_lines) + sep + body, b"\n".join(sig_lines) + b"\n"


def verify_commit(raw: bytes, allowed_signers: bytes | None, at: int | None = None) -> SignatureCheck:
    """A signed commit object (request, approve and merge commits)."""
    payload, signature = split_signed_commit(raw)
    return verify_detached(payload, signature, allowed_signers, at=at)


def verify_detached(payload: bytes, signature: bytes, allowed_signers: bytes | None, *,
                    namespace: str = "git", at: int | None = None) -> SignatureCheck:
    """Who signed `payload`, by the allowed signers (ssh-keygen semantics, also for `valid-after`/
    `valid-before` when `at`, a Unix time, is given) or the gpg fingerprints listed there."""
    if not signature:
        return SignatureCheck(False, "unsigned")
    if allowed_signers is None:
        return SignatureCheck(False, "no allowed signers file in the policy's branch")
    ssh_allowed, gpg_allowed = _split_allowed(allowed_signers)
    if signature.startswith(b"-----BEGIN PGP SIGNATURE-----"):
        return _verify_gpg(payload, signature, gpg_allowed)
    from gitmv.git import sshsig

    verdict = sshsig.check(payload, signature, ssh_allowed, namespace=namespace, at=at)
    if verdict is not None:
        return SignatureCheck(*verdict, method="ssh")
    return verify_ssh_keygen(payload, signature, ssh_allowed, namespace=namespace, at=at)


def verify_ssh_keygen(payload: bytes, signature: bytes, ssh_allowed: bytes, *, namespace: str = "git",
                      at: int | None = None) -> SignatureCheck:
    """The ssh-keygen path (find-principals, then verify or check-novalidate), for what the
    in-process `sshsig.check` leaves to it; `ssh_allowed` holds the ssh lines of allowed signers."""
    when = [f"-Overify-time={time.strftime('%Y%m%d%H%M%SZ', time.gmtime(at))}"] if at is not None else []
    with tempfile.TemporaryDirectory(prefix="mvsig") as tmp:
        allowed_path = Path(tmp, "allowed")
        sig_path = Path(tmp, "sig")
        allowed_path.write_bytes(ssh_allowed)
        sig_path.write_bytes(signature)
        found = _run(["ssh-keygen", "-Y", "find-principals", "-f", str(allowed_path), "-s", str(sig_path), *when])
        principals = found.stdout.decode().split() if found.returncode == 0 else []
        if not principals:
            probe = _run(["ssh-keygen", "-Y", "check-novalidate", "-n", namespace, "-s", str(sig_path)], payload)
            fpr = FPR_RE.search(probe.stdout.decode() + probe.stderr.decode())
            if probe.returncode != 0:
                return SignatureCheck(False, "bad signature (the content does not match it)", method="ssh")
            return SignatureCheck(False, "signed by a key not in allowed signers",
                                  fingerprint=fpr.group(1) if fpr else None, method="ssh")
        principal = principals[0]
        check = _run(["ssh-keygen", "-Y", "verify", "-f", str(allowed_path), "-I", principal, "-n", namespace,
                      "-s", str(sig_path), *when], payload)
        text = check.stdout.decode() + check.stderr.decode()
        fpr = FPR_RE.search(text)
        if check.returncode != 0:
            return SignatureCheck(False, "bad signature (the content does not match it)", principal,
                                  fpr.group(1) if fpr else None, "ssh")
        return SignatureCheck(True, "", principal, fpr.group(1) if fpr else None, "ssh")


def _verify_gpg(payload: bytes, signature: bytes, allowed: dict[str, str]) -> SignatureCheck:
    with tempfile.TemporaryDirectory(prefix="mvsig") as tmp:
        sig_path = Path(tmp, "sig.asc")
        data_path = Path(tmp, "data")
        sig_path.write_bytes(signature)
        data_path.write_bytes(payload)
        proc = _run(["gpg", "--batch", "--status-fd", "1", "--verify", str(sig_path), str(data_path)])
    status = proc.stdout.decode(errors="replace")
    valid = re.search(r"^\[GNUPG:\] VALIDSIG ([0-9A-F]+)", status, re.M)
    if not valid:
        return SignatureCheck(False, "bad or unverifiable gpg signature", method="gpg")
    fpr = valid.group(1).upper()
    principal = allowed.get(fpr)
    if principal is None:
        return SignatureCheck(False, "signed by a key not in allowed signers", fingerprint=f"gpg:{fpr}", method="gpg")
    return SignatureCheck(True, "", principal, f"gpg:{fpr}", "gpg")


def signing_key_fingerprint(signing_key: str | None, fmt: str | None) -> str | None:
    """The fingerprint of the user's configured signing key, for the record's `signer` field."""
    if not signing_key:
        return None
    if (fmt or "openpgp") == "ssh":
        key = signing_key
        if key.startswith("key::"):
            with tempfile.NamedTemporaryFile("w", suffix=".pub", delete=False) as fh:
                fh.write(key[5:] + "\n")
                key = fh.name
        proc = _run(["ssh-keygen", "-lf", os.path.expanduser(key)])
        m = FPR_RE.search(proc.stdout.decode())
        return m.group(1) if m else None
    proc = _run(["gpg", "--batch", "--with-colons", "--fingerprint", signing_key])
    for line in proc.stdout.decode(errors="replace").splitlines():
        if line.startswith("fpr:"):
            return "gpg:" + line.split(":")[9]
    return None


def allowed_signers_line(principal: str, public_key: str) -> str:
    return f'{principal} namespaces="git" {public_key.strip()}\n'


def sign_payload(payload: bytes, *, fmt: str | None, signing_key: str | None, namespace: str = "git",
                 ssh_program: str | None = None, gpg_program: str | None = None) -> bytes:
    """A detached armored signature over `payload` with the user's git signing setup
    (`gpg.format`, `user.signingkey`, `gpg.ssh.program`, `gpg.program`), as `git tag -s` would make
    it: evidence records are signed by the same key that signs the user's tags."""
    from gitmv.errors import SigningError

    fix = "set up signing: git config gpg.format ssh; git config user.signingkey ~/.ssh/id_ed25519.pub"
    if not signing_key:
        raise SigningError("no signing key configured (user.signingkey is unset)", fix)
    if (fmt or "openpgp") == "ssh":
        with tempfile.TemporaryDirectory(prefix="mvsign") as tmp:
            key = os.path.expanduser(signing_key)
            if signing_key.startswith("key::"):
                key = str(Path(tmp, "key.pub"))
                Path(key).write_text(signing_key[5:] + "\n")
            proc = _run([ssh_program or "ssh-keygen", "-Y", "sign", "-n", namespace, "-f", key], payload)
    else:
        proc = _run([gpg_program or "gpg", "--batch", "--status-fd=2", "--detach-sign", "--armor",
                     "-u", signing_key], payload)
    if not proc.ok or not proc.stdout.strip():
        proc.fail("could not sign the record", fix, SigningError)
    return proc.stdout
