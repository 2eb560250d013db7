"""Approval by pull-request review, read back from the protected branch.

Evidence is a merge commit M on the protected branch's first-parent history whose first parent
did not name this version in `promotions/<model>/<stage>.toml` and M does. The branch's current
file must still be the requested one (byte for byte the file the request commit wrote), so a
later request supersedes an earlier approval and an edit after review voids it.

Identity is a signature (checked against the allowed signers on the protected branch): the
requester is the principal who signed the request commit; approvers are the signers of approve
commits on the request branch naming the merged request's sha256, the signer of M, and the author
of a host's web merge signed by a key in `host_signers`. `gitmv.rules.approvals` decides from
these facts; trailers and e-mails are kept for display only. This module is the only caller of
`verify_commit` for approvals.
"""

from __future__ import annotations

import hashlib
import re
import tomllib

from gitmv.git.signing import verify_commit
from gitmv.registry import Registry, Version
from gitmv.schema import STRING, Field, Invalid, Table
from gitmv.rules import approvals as rules
from gitmv.rules.gate import Criterion

TRAILER_RE = re.compile(r"^(Approved-by|Reviewed-by):\s*(.+?)\s*$", re.M | re.I)
EMAIL_RE = re.compile(r"<([^>]+)>")
PR_RE = re.compile(r"(?:pull request #|\(#|merge request !|!|#)(\d+)")
REQUEST_TRAILER = "Mv-Promote-Request"
WALK_LIMIT = 20000
# when signatures are judged: None (now), a time (epoch seconds), or several (valid at each)
At = int | None | tuple[int | None, ...]


def request_path(model: str, stage: str) -> str:
    return f"promotions/{model}/{stage}.toml"


def page_path(model: str, stage: str) -> str:
    return f"promotions/{model}/{stage}.md"


def email_of(identity: str) -> str:
    """The lower-cased e-mail of 'Name <mail>' (display text: it may only ever exclude someone)."""
    m = EMAIL_RE.search(identity)
    return (m.group(1) if m else identity).strip().lower()


def protected_tip(reg: Registry) -> str | None:
    if reg.protected_commit:  # a past state of the branch (audit re-judges old stage tags at it)
        return reg.protected_commit
    if reg.protected_ref:
        return reg.repo.ref(reg.protected_ref)
    branch = reg.policy.protected_branch
    return reg.repo.ref(f"refs/heads/{branch}") or reg.repo.ref(f"refs/remotes/origin/{branch}")


# The request file as approval reads it (gitmv.ops.request_page.request_record writes it): open,
# since it may gain fields within schema 1, and only what says what is asked is relied on.
REQUEST = Table({key: Field(STRING, required=True) for key in ("model", "version", "version_tag", "stage")},
                open=True)


def _read_request(raw: bytes | None) -> tuple[dict | None, str]:
    """(the request, "") or (None, why these bytes are not one). A file that is not a request asks
    for nothing: it is never an error here, only no approval."""
    if raw is None:
        return None, ""
    try:
        return REQUEST.check(tomllib.loads(raw.decode("utf-8"))), ""
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return None, f"not UTF-8 TOML: {exc}"
    except Invalid as exc:
        return None, str(exc)


def _parse_request(raw: bytes | None) -> dict | None:
    return _read_request(raw)[0]


def _names_version(req: dict | None, version: Version, stage: str | None = None) -> bool:
    """The request names this version and its tag object, and the model (and stage, when given)
    of the path it sits at: the same bytes copied to another stage's path ask for nothing there."""
    if not req:
        return False
    return (req.get("version") == version.name and req.get("version_tag") == version.tag.id
            and req.get("model") == version.record.model and (stage is None or req.get("stage") == stage))


def find(reg: Registry, version: Version, stage: str, tip: str | None = None,
         at: At = None) -> tuple[dict | None, str]:
    """(evidence, "") when a merged, unchanged request for this version exists; else (None, why not).
    Signatures are judged at `at` (None: now; verify passes the time of the stage tag that used it;
    the hook passes both, (None, that time), and a signature counts only when valid at each)."""
    repo = reg.repo
    tip = tip or protected_tip(reg)
    branch = reg.policy.protected_branch
    path = request_path(version.record.model, stage)
    if tip is None:
        return None, f"protected branch {branch} not found"
    current_raw = repo.blob_at(tip, path)
    current, not_a_request = _read_request(current_raw)
    if current is None and current_raw is not None:
        return None, (f"{branch}'s {path} is not a request ({not_a_request}): run 'git mv-promote request "
                      f"{version.record.model} {version.name} --stage {stage}' and get it merged")
    if current is None:
        return None, f"{branch} has no {path}: run 'git mv-promote request {version.record.model} {version.name} --stage {stage}' and get it merged"
    if not _names_version(current, version, stage):
        return None, (f"{branch}'s {path} names {current.get('version')} ({str(current.get('version_tag'))[:12]}) "
                      f"of {current.get('model')} for {current.get('stage')}, "
                      f"not {version.name} of {version.record.model} for {stage}")
    for n, info in enumerate(repo.first_parent_walk(tip)):
        if n >= WALK_LIMIT:
            break
        parents = info["parents"]
        here = repo.blob_at(info["id"], path)
        before = repo.blob_at(parents[0], path) if parents else None
        if (here is not None and _names_version(_parse_request(here), version, stage)
                and not _names_version(_parse_request(before), version, stage)):
            if len(parents) < 2:
                return None, (f"{path} naming {version.name} was committed directly to {branch} in {info['id'][:12]}, "
                              "not merged from a reviewed request")
            return _evidence(reg, version, stage, info, here, current_raw, path, tip, at)
    return None, f"no merge into {branch} introduced {path} for {version.name}"


APPROVE_TRAILER = "Mv-Promote-Approve"
APPROVE_RE = re.compile(rf"^{APPROVE_TRAILER}:\s*(\S+)\s+sha256:([0-9a-f]{{64}})\s*$", re.M)


def approve_message(model: str, version: str, stage: str, request_sha256: str, reason: str = "") -> str:
    """The message of an approve commit: its trailer names the request by digest, so an edit of
    the request file after the approval voids it."""
    body = f"\n\n{reason}" if reason else ""
    return (f"Approve promotion of {model} {version} to {stage}{body}\n\n"
            f"{APPROVE_TRAILER}: {model}/{version}-{stage} sha256:{request_sha256}\n")


def _signers_at(reg: Registry, tip: str) -> tuple[bytes | None, bytes | None]:
    """(allowed signers, host signers) as the protected branch holds them: identities are judged
    by the branch, never by the request."""
    policy = reg.policy
    allowed = reg.repo.blob_at(tip, policy.allowed_signers)
    hosts = reg.repo.blob_at(tip, policy.host_signers) if policy.host_signers else None
    return allowed, hosts


def principals(allowed: bytes | None) -> list[str]:
    """The literal principals an allowed-signers file names (patterns with wildcards name nobody)."""
    out = []
    for line in (allowed or b"").decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for name in line.split()[0].split(","):
            if name and not any(ch in name for ch in "*?!"):
                out.append(name)
    return out


def _verify(repo, oid: str, signers: bytes | None, at: At):
    """Checked at `at` (None: now; a tuple: at each, the first failure wins), never at the commit's
    own date, which its signer chose: a key past its valid-before must not approve by backdating a
    commit."""
    raw = repo.read_raw(oid)
    times = at if isinstance(at, tuple) else (at,)
    checks = [verify_commit(raw, signers, at=t) for t in dict.fromkeys(times)]
    return next((c for c in checks if not c.ok), checks[0])


def merge_fact(repo, merge: dict, allowed: bytes | None, hosts: bytes | None, at: At = None) -> rules.Fact:
    """What the merge commit vouches for: its signer, or for a host's web merge, its author."""
    check = _verify(repo, merge["id"], allowed, at)
    if check.ok:
        return rules.Fact(rules.MERGE, merge["id"], check.principal)
    if hosts is not None:
        host = _verify(repo, merge["id"], hosts, at)
        if host.ok:
            author = email_of(merge["author"])
            who = rules.host_merge_author(author, principals(allowed))
            return rules.Fact(rules.HOST_MERGE, merge["id"], who,
                              unverified="" if who else f"host {host.principal} merged for {author}, "
                                                        "who is not a principal in allowed signers")
    return rules.Fact(rules.MERGE, merge["id"], None, unverified=f"merge commit: {check.reason}")


def approve_facts(repo, base: str, branch_tip: str, allowed: bytes | None, name: str,
                  at: At = None) -> list[rules.Fact]:
    """Approve commits for request `name` (<model>/<version>-<stage>) on the merged branch."""
    facts = []
    for c in repo.commits_between(base, branch_tip, limit=500):
        info = repo.commit_info(c["id"])
        named = [sha for who, sha in APPROVE_RE.findall(info["message"]) if who == name]
        if not named:
            continue
        check = _verify(repo, info["id"], allowed, at)
        facts.append(rules.Fact(rules.APPROVE, info["id"], check.principal if check.ok else None, named[-1],
                                unverified="" if check.ok else f"approve commit: {check.reason}"))
    return facts


def _evidence(reg: Registry, version: Version, stage: str, merge: dict, merged_raw: bytes, current_raw: bytes | None,
              path: str, tip: str, at: At = None) -> tuple[dict | None, str]:
    repo = reg.repo
    if merged_raw != current_raw:
        return None, f"{path} was changed on the protected branch after the merge {merge['id'][:12]}"
    base, branch_tip = merge["parents"][0], merge["parents"][1]
    request_commit = _request_commit(repo, branch_tip, base, path)
    if request_commit is None:
        return None, f"merge {merge['id'][:12]} does not contain a request commit for {path}"
    requested = repo.blob_at(request_commit, path)
    if requested != merged_raw:
        return None, f"{path} was edited after the request {request_commit[:12]} (the merged file is not the one requested)"
    allowed, hosts = _signers_at(reg, tip)
    signed = _verify(repo, request_commit, allowed, at)
    if not signed.ok:
        return None, (f"request commit {request_commit[:12]} is not signed by an allowed signer ({signed.reason}), "
                      "so it has no requester: request again with signing set up")
    digest = hashlib.sha256(requested).hexdigest()
    name = f"{version.record.model}/{version.name}-{stage}"
    facts = approve_facts(repo, base, branch_tip, allowed, name, at) + [merge_fact(repo, merge, allowed, hosts, at)]
    decision = rules.decide(signed.principal, digest, facts)
    pr = PR_RE.search(merge["message"].splitlines()[0] if merge["message"] else "")
    return {
        "merge_commit": merge["id"], "request_commit": request_commit, "approvers": list(decision.approvers),
        "requester": signed.principal, "pr": int(pr.group(1)) if pr else None, "request_file": path,
        "request_sha256": digest, "approvals": [dict(a) for a in decision.approvals],
        "not_counted": [dict(n) for n in decision.not_counted],
        "trailers": [who for _, who in TRAILER_RE.findall(merge["message"])],
    }, ""


def _request_commit(repo, branch_tip: str, base: str, path: str) -> str | None:
    """The newest commit on the request side (not on `base`) that wrote `path`."""
    for c in repo.commits_between(base, branch_tip, limit=500):
        info = repo.commit_info(c["id"])
        before = repo.blob_at(info["parents"][0], path) if info["parents"] else None
        if repo.blob_at(c["id"], path) != before:
            return c["id"]
    return None


def signer(reg: Registry, commit: str, tip: str | None = None):
    """The SignatureCheck of a commit against the protected branch's allowed signers (HEAD's when
    the branch is not here), for `approve`'s own checks before it writes anything."""
    allowed = _signers_at(reg, tip)[0] if tip else reg.allowed_signers
    return _verify(reg.repo, commit, allowed, None)


def names_version(raw: bytes | None, version: Version, stage: str | None = None) -> bool:
    """Whether raw request-file bytes parse and name this version, its tag object, its model and
    (when given) this stage: the path `promotions/<model>/<stage>.toml` they were read from."""
    return _names_version(_parse_request(raw), version, stage)


def request_commit_on(repo, branch_tip: str, base: str, path: str) -> str | None:
    return _request_commit(repo, branch_tip, base, path)


def check(reg: Registry, version: Version, stage: str, needed: int, at: At = None) -> tuple[Criterion, dict | None]:
    evidence, why = find(reg, version, stage, at=at)
    if evidence is None:
        return Criterion("approvals", False, f"needs {needed} approval(s): {why}"), None
    have = len(evidence["approvers"])
    skipped = evidence.pop("not_counted")
    if have < needed:
        why_not = "; ".join(f"{n['kind']} {n['commit'][:12]} not counted: {n['reason']}" for n in skipped)
        return Criterion("approvals", False,
                         f"needs {needed} distinct approver(s) other than the requester ({evidence['requester']}); "
                         f"merge {evidence['merge_commit'][:12]} has {have} ({', '.join(evidence['approvers']) or 'none'})"
                         + (f" [{why_not}]" if why_not else "")
                         + ": approve with a signed 'git mv-promote approve' or a signed merge (git merge -S)"), None
    return Criterion("approvals", True, f"{have} approver(s) in merge {evidence['merge_commit'][:12]}: "
                                        f"{', '.join(evidence['approvers'])}"), evidence
