"""The protected-branch guard (R7): who may change the policy, the signers and `promotions/**`.

The server reads its policy, its allowed signers and the approved promotions from the protected
branch, so a push that rewrites them could approve itself one push later. This module decides,
from facts gathered by the hook (no I/O here), whether an update of the protected branch may go
through:

- the branch is never deleted and only fast-forwards;
- a push that changes guarded bytes (old tip vs new tip) keeps the old tip on the new tip's
  first-parent chain, so the per-commit first-parent diffs telescope from old to new and every
  guarded change passes through a judged commit (a merge taking an old commit as first parent
  would otherwise undo a reviewed change unseen);
- every commit the push adds to its first-parent history that changes a guarded path is a
  two-parent merge carrying at least `policy_approvals` approvers (from the server's *current*
  policy, never the pushed one);
- approvers are principals (signatures checked by the caller against the current allowed
  signers): the signer of the merge, and signers of approve commits on the merged side whose
  `Mv-Promote-Approve:` trailer binds what they saw (see `covers`) and whose change lands on the
  state it was reviewed against (see `Change.base_current`); distinct, and never an author of a
  guarded change on the merged side (no self-approval);
- the policy at the pushed tip must parse, or the server could read no policy afterwards.

Bootstrap: when the server has no policy yet (`UpdateFacts.bootstrap`), only deletion and the
pushed policy's validity are judged: there is nothing to judge the change against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

RULE = "R7 protected-branch"
RULE_APPROVALS = "R7 protected-branch-approvals"
RULE_POLICY = "R7 protected-branch-policy"
APPROVE_TRAILER = "Mv-Promote-Approve"
PROMOTIONS = "promotions/"

_TRAILER_RE = re.compile(rf"^{APPROVE_TRAILER}:[ \t]*(.+?)[ \t]*$", re.M | re.I)
_TREE_RE = re.compile(r"^tree:([0-9a-f]{40}|[0-9a-f]{64})$")
_SHA_RE = re.compile(r"^sha256:([0-9a-f]{64})$")
# `<model>/<version>-<stage>`, the name an approve commit gives the request it approves
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*/[a-z0-9][a-z0-9._-]*-[a-z0-9][a-z0-9_-]*$")


def approve_bindings(message: str) -> tuple[str, ...]:
    """The bindings named by a commit message's `Mv-Promote-Approve:` trailers, e.g.
    ("tree:<id>", "sha256:<hex>@churn/v2-production"): a digest carries the request name that
    precedes it on its trailer line (`@<model>/<version>-<stage>`), since it binds bytes at that
    path only; a digest with no such name stays bare and binds nothing. Other tokens are ignored."""
    out = []
    for value in _TRAILER_RE.findall(message or ""):
        name = None
        for token in value.split():
            token = token.lower()
            if _TREE_RE.match(token):
                out.append(token)
            elif _SHA_RE.match(token):
                out.append(f"{token}@{name}" if name else token)
            elif _NAME_RE.match(token):
                name = token
    return tuple(out)


def names_request(name: str, path: str) -> bool:
    """Does `<model>/<version>-<stage>` name the request file `promotions/<model>/<stage>.toml`?
    Stage names may hold '-', so the name is matched against the path rather than split."""
    parts = path.removeprefix(PROMOTIONS).removesuffix(".toml").split("/")
    if not path.startswith(PROMOTIONS) or not path.endswith(".toml") or len(parts) != 2:
        return False
    model, stage = parts
    version = name.removeprefix(f"{model}/").removesuffix(f"-{stage}")
    return name == f"{model}/{version}-{stage}" and bool(version)


@dataclass(frozen=True)
class Change:
    """A guarded path a first-parent commit changes against its first parent."""

    path: str
    sha256: str | None  # of the file in the commit; None when the commit deletes it
    from_side: bool = True  # a merge's file is byte-identical to the merged side's tip (M^2)
    # the path's bytes at the merge base of the merge's parents equal those at its first parent:
    # the side's change, as a reviewer saw it, is what lands (else main moved under the approval)
    base_current: bool = True


@dataclass(frozen=True)
class Approve:
    """A commit on the merged side carrying an `Mv-Promote-Approve:` trailer."""

    commit: str
    principal: str | None  # verified signer, None when unsigned or not an allowed signer
    bindings: tuple[str, ...] = ()


@dataclass(frozen=True)
class BranchCommit:
    """A commit the push adds to the protected branch's first-parent history."""

    id: str
    parents: int
    changes: tuple[Change, ...] = ()
    merge_signer: str | None = None  # principal who signed the merge (or a host-vouched author)
    side_tree: str | None = None  # tree id of the merged side's tip (M^2)
    approves: tuple[Approve, ...] = ()
    change_authors: frozenset[str] = frozenset()  # signer principals and author e-mails of guarded side changes
    side_complete: bool = True  # False when the merged side was too long to examine


@dataclass(frozen=True)
class UpdateFacts:
    ref: str
    deleting: bool = False
    fast_forward: bool = True
    bootstrap: bool = False  # the server has no policy yet: the first one is accepted
    policy_error: str | None = None  # why the policy at the pushed tip does not parse
    old_on_first_parent: bool = True  # the old tip lies on the new tip's first-parent chain
    tip_changes: tuple[str, ...] = ()  # guarded paths whose bytes differ between old and new tip
    needed: int = 1  # policy_approvals of the server's current policy
    commits: tuple[BranchCommit, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Finding:
    ref: str
    rule: str
    cause: str
    fix: str


def _norm(who: str) -> str:
    return who.strip().lower()


def covers(approve: Approve, commit: BranchCommit, change: Change) -> bool:
    """Does an approve commit bind this change? `tree:<id>` names the tree of the merged side's
    tip, so any later edit on that side (a new tip tree) voids it; `sha256:<hex>@<m>/<v>-<s>` (the
    promotion request binding) names one request file's bytes at one path and covers that
    `promotions/<m>/<s>.toml` and its reviewer page `promotions/<m>/<s>.md` only (the same bytes
    moved to another stage's path are not approved). Either way the merge must carry the side's
    bytes, and the path must not have moved on the first-parent side since the merge base (the
    reviewer judged the change against the state it lands on)."""
    if not change.from_side or not change.base_current:
        return False
    if commit.side_tree and f"tree:{commit.side_tree}" in approve.bindings:
        return True
    if not change.path.startswith(PROMOTIONS):
        return False
    if change.path.endswith(".toml"):
        if change.sha256 is None:
            return False
        prefix = f"sha256:{change.sha256}@"
        return any(b.startswith(prefix) and names_request(b[len(prefix):], change.path) for b in approve.bindings)
    if change.path.endswith(".md"):
        sibling = change.path[:-3] + ".toml"
        return any(c.path == sibling and covers(approve, commit, c) for c in commit.changes)
    return False


def approvers(commit: BranchCommit) -> list[str]:
    """Distinct principals approving a merge, excluding anyone who authored a guarded change."""
    authors = {_norm(a) for a in commit.change_authors}
    if commit.merge_signer and not all(c.from_side for c in commit.changes):
        authors.add(_norm(commit.merge_signer))  # the merge itself wrote guarded bytes: its signer authored them
    out: dict[str, str] = {}
    candidates = [commit.merge_signer] if commit.merge_signer else []
    candidates += [a.principal for a in commit.approves
                   if a.principal and all(covers(a, commit, c) for c in commit.changes)]
    for who in candidates:
        key = _norm(who)
        if key not in authors and key not in out:
            out[key] = who
    return sorted(out.values())


def judge(facts: UpdateFacts) -> list[Finding]:
    """Refusals for one update of a protected branch; empty when it may go through."""
    ref = facts.ref
    branch = ref.removeprefix("refs/heads/")
    if facts.deleting:
        return [Finding(ref, RULE, "deleting the protected branch is not allowed",
                        "the server reads its policy and approvals from it; push to another branch instead")]
    found: list[Finding] = []
    if facts.policy_error:
        found.append(Finding(ref, RULE_POLICY, f"the pushed .mv-promote.toml does not parse: {facts.policy_error}",
                             "fix the policy (git mv-promote check reads it) and push again"))
    if facts.bootstrap:
        return found
    if not facts.fast_forward:
        return found + [Finding(ref, RULE, "non-fast-forward update of the protected branch",
                                f"fetch and merge origin/{branch}, then push without --force")]
    if not facts.old_on_first_parent and facts.tip_changes:
        paths = ", ".join(sorted(facts.tip_changes)[:5]) + (" …" if len(facts.tip_changes) > 5 else "")
        found.append(Finding(ref, RULE, f"the push changes guarded paths ({paths}) but the current {branch} "
                             "is not on its first-parent history, so those changes were not judged",
                             f"merge into the current {branch} (it must be the first parent: git checkout "
                             f"{branch} && git merge --no-ff <branch>) and push that"))
    for c in facts.commits:
        if not c.changes:
            continue
        paths = ", ".join(sorted(ch.path for ch in c.changes)[:5]) + (" …" if len(c.changes) > 5 else "")
        if c.parents != 2:
            what = "a commit directly on" if c.parents < 2 else f"a {c.parents}-parent merge into"
            found.append(Finding(ref, RULE, f"{c.id[:12]} is {what} {branch} that changes guarded paths ({paths})",
                                 f"put the change on a branch and get it merged into {branch} with a merge "
                                 f"signed by a reviewer (git merge --no-ff -S)"))
            continue
        if not c.side_complete:
            found.append(Finding(ref, RULE_APPROVALS, f"merge {c.id[:12]} brings in too many commits to examine",
                                 "merge a shorter branch (rebase it onto the protected branch)"))
            continue
        who = approvers(c)
        if len(who) < facts.needed:
            found.append(Finding(
                ref, RULE_APPROVALS,
                f"merge {c.id[:12]} changes guarded paths ({paths}) with {len(who)} approver(s) "
                f"({', '.join(who) or 'none'}), policy_approvals needs {facts.needed}, none of them an author "
                "of the change",
                "have a reviewer in allowed_signers sign the merge (git merge --no-ff -S) or sign an empty "
                f"approve commit on the branch ('{APPROVE_TRAILER}: tree:<tree of the branch tip>')"))
    return found
