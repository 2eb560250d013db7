"""The push rules, shared by the server `pre-receive` hook (the authority) and `pre-push`.

Policy, allowed signers, the current stages and the approvals are read from the server's
protected branch and refs, never from what is being pushed, so a push that weakens the policy
cannot approve itself. Nothing here writes a ref. Each refusal names the rule, the ref and the fix.

Rules (numbered as in docs/hooks.md):
  R1 a protected stage tag needs a signed tag by an allowed signer on a valid registered version,
     seq = current + 1, an eval bound to the digests, a passing gate, not deprecated, approvals;
     a rollback instead needs the target to have been in that stage and to keep its eval.
  R2 policy and signers come from the protected branch.
  R3 registry tags are never deleted or moved, never lightweight; the notes refs (evidence and
     attestations) only fast-forward and never lose or alter a record.
  R4 objects are read from the quarantine; R5 fail closed (see gitmv.hooks); R6 cost follows
     the refs pushed.
  R7 the protected branch only fast-forwards, and changes to the policy, the signers files and
     promotions/** reach it only as merges with `policy_approvals` approvers (rules/branch_guard.py).
  R8 a stage record carries `traffic` exactly in a rollout stage, in range, and a share change
     (kind = rollout) targets the stage's current version (rules/rollout.py). The canary soak is
     part of R1 (rules/soak.py), timed by the pushed stage tag's own time.
  R9 outside the research tier, what the CLI refuses cannot be pushed by hand (rules/provenance.py):
     a version whose artifact is not retrievable at its commit, an eval record that does not say
     truthfully what produced it, a second identical deprecation.
"""

from __future__ import annotations

import hashlib
import time
from typing import Sequence

from gitmv import records
from gitmv.errors import MvError
from gitmv.git import notes
from gitmv.git.record_signing import verify_record
from gitmv.git.repo import ZERO, Repo
from gitmv.names import ATTESTATIONS_REF, NOTES_REF, STAGE_REF_RE, TAG_ROOT, VERSION_REF_RE, model_tags_prefix, version_ref
from gitmv.git.signing import verify_commit
from gitmv.policy import POLICY_PATH, parse_policy
from gitmv.registry import Registry
from gitmv.rules import artifacts as artifact_rules, stage_record
from gitmv.rules import notes as notes_rules
from gitmv.rules import refs as refrules
from gitmv.rules import rollout as rollout_rules
from gitmv.rules import soak as soak_rules
from gitmv.rules.gate import Criterion

# Imported where they are needed, not here: a hook process starts for every push, and a push
# needs only some of the rules (docs/design.md, "Hook start-up"): rules.branch_guard only when a
# branch is pushed, the gate (rules.promotion, gitmv.approvals) only for a protected stage or a
# soak, rules.provenance (R9) only for versions and evidence.

FIX_SIGN = "sign with a key listed in the policy's allowed_signers (git config user.signingkey; gpg.format ssh)"


FIX_STAGE_TAG = "make stage tags with 'git mv-promote promote'"
PUSH_FIRST = "first: git push"  # in every "push <branch> first" refusal (sync and request look for it)


class Refusal(Exception):
    def __init__(self, ref: str, rule: str, cause: str, fix: str, more: tuple[tuple[str, str, str], ...] = ()):
        super().__init__(cause)
        self.ref = ref
        self.items = ((rule, cause, fix), *more)  # (rule, cause, fix) each: audit reports them as findings
        # one self-contained line per cause (rule, ref, cause, fix), never one long joined line
        self.texts = [f"refused {ref}: [{r}] {c} — {f}" for r, c, f in self.items]
        self.text = "\n".join(self.texts)


def _refused_ref(text: str) -> str:
    """The ref a refusal line names (`Refusal` writes "refused <ref>: [<rule>] ...")."""
    return text[len("refused "):].split(": [", 1)[0]


def _policy_state(repo: Repo, branch_ref: str):
    """(policy, allowed signers, tip) from a branch; raises MvError when there is none."""
    tip = repo.ref(branch_ref)
    if tip is None:
        raise MvError(f"the protected branch {branch_ref} does not exist here",
                      f"push the branch holding {POLICY_PATH} first")
    raw = repo.blob_at(tip, POLICY_PATH)
    if raw is None:
        raise MvError(f"{branch_ref} has no {POLICY_PATH}", f"commit the policy to {branch_ref} and push it first")
    policy = parse_policy(raw, f"{POLICY_PATH} on {branch_ref}")
    return policy, repo.blob_at(tip, policy.allowed_signers), tip


def branch_policy(repo: Repo, branch_ref: str):
    """(policy, allowed signers, tip) as a branch holds them: `get` in a clone judges by its copy
    of the protected branch, as pre-push does."""
    return _policy_state(repo, branch_ref)


def _server_branch(repo: Repo) -> str:
    configured = repo.config("mvpromote.protectedBranch")
    if configured:
        return f"refs/heads/{configured}"
    return repo.head_ref() or "refs/heads/main"


def load_server_policy(repo: Repo):
    branch_ref = _server_branch(repo)
    policy, signers, tip = _policy_state(repo, branch_ref)
    wanted = f"refs/heads/{policy.protected_branch}"
    if wanted != branch_ref:
        policy, signers, tip = _policy_state(repo, wanted)
        if f"refs/heads/{policy.protected_branch}" != wanted:
            raise MvError(f"the policies on {branch_ref} and {wanted} disagree about the protected branch",
                          "make registry.protected_branch name the branch the policy is on")
    return policy, signers, wanted


# ---------------------------------------------------------------- entry points

def pre_receive(git_dir: str, updates: list[tuple[str, str, str]]) -> list[str]:
    repo = Repo.open_for_hook(git_dir)
    stale = stale_refusals(repo, updates)
    if stale:  # every rule below judges the push against the server's refs: it must start from them
        return stale
    refusals = check_protected_branch(repo, updates)  # R7; needs no policy to exist (bootstrap)
    if not any(refrules.in_namespace(u[2]) for u in updates):
        return refusals
    policy, signers, branch_ref = load_server_policy(repo)
    return refusals + check_updates(repo, policy, signers, updates, server_notes=repo.ref(NOTES_REF),
                                    protected_ref=branch_ref, hidden=set())


def pre_push(remote: str, pushes: list[tuple[str, str, str, str]], repo: Repo | None = None) -> list[str]:
    """The same rules, early, against what this clone knows of the remote."""
    repo = repo or Repo.discover(".")
    # the remote's protected branch as last fetched (else our own copy of it)
    branch = local_protected_branch(repo)
    tracking = f"refs/remotes/{remote}/{branch}"
    branch_ref = tracking if repo.ref(tracking) else f"refs/heads/{branch}"
    policy, signers, _ = _policy_state(repo, branch_ref)
    updates = []
    hidden = set()
    for _local_ref, local_sha, remote_ref, remote_sha in pushes:
        updates.append((remote_sha, local_sha, remote_ref))
        parsed = refrules.parse(remote_ref)
        if remote_sha == ZERO and parsed is not None and parsed.kind in ("version", "stage"):
            hidden.add(parsed.name)
    if hidden:
        hidden |= _local_only_registry_refs(repo, remote)
    remote_notes = repo.ref(f"refs/notes/remotes/{remote}/mv-promote")
    refusals = check_updates(repo, policy, signers, updates, server_notes=remote_notes,
                             protected_ref=branch_ref, hidden=hidden)
    if refusals and branch_ref == tracking:
        refusals = _blame_unpushed_branch(repo, remote, branch, updates, hidden, remote_notes, refusals)
    return refusals


def local_protected_branch(repo: Repo) -> str:
    """The protected branch as the policy at HEAD names it ("main" without one)."""
    local_policy_raw = repo.blob_at(repo.head_commit(), POLICY_PATH) if not repo.is_bare else None
    return parse_policy(local_policy_raw).protected_branch if local_policy_raw else "main"


def _blame_unpushed_branch(repo: Repo, remote: str, branch: str, updates, hidden: set[str], remote_notes: str | None,
                           refusals: list[str]) -> list[str]:
    """The remote judges by its own protected branch. When ours is ahead of it (a new model or a
    new allowed signer committed but not pushed) and a ref refused against the remote's branch
    passes against ours, the real cause is the unpushed branch: say "push <branch> first" and name
    the commits, not the rule the remote's older branch fails. Refusals that hold either way stay."""
    from gitmv.git.remote import remote_branch

    local_ref = f"refs/heads/{branch}"
    local = repo.ref(local_ref)
    try:
        theirs = remote_branch(repo, remote, branch)
    except MvError:
        theirs = repo.ref(f"refs/remotes/{remote}/{branch}")
    if local is None or theirs is None or theirs == local or not repo.is_ancestor(theirs, local):
        return refusals
    try:
        policy, signers, _ = _policy_state(repo, local_ref)
        ours = check_updates(repo, policy, signers, updates, server_notes=remote_notes, protected_ref=local_ref,
                             hidden=hidden)
        theirs_policy = _policy_state(repo, f"refs/remotes/{remote}/{branch}")[0]
    except MvError:
        return refusals
    still = {_refused_ref(t) for t in ours}
    blamed = list(dict.fromkeys(_refused_ref(t) for t in refusals if _refused_ref(t) not in still))
    if not blamed:
        return refusals
    ahead = repo.commits_between(theirs, local, limit=1000)
    # name the commits that change what the remote judges by (training commits are noise here)
    paths = sorted({POLICY_PATH} | {p for pol in (policy, theirs_policy)
                                    for p in (pol.allowed_signers, pol.host_signers) if p})
    cause_commits = [c for c in ahead if repo.changed_paths((repo.commit_info(c["id"])["parents"] or [None])[0],
                                                            c["id"], paths, [])] or ahead
    named = ", ".join(f"{c['id'][:12]} \"{c['subject']}\"" for c in cause_commits[:3]) + (
        f" and {len(cause_commits) - 3} more" if len(cause_commits) > 3 else "")
    count = f"{len(ahead)}{'+' if len(ahead) >= 1000 else ''}"
    out = [Refusal(ref, "R2 policy", f"{remote}'s {branch} lacks your {named} ({branch} is {count} commit(s) ahead "
                   f"of {remote}'s), and the remote judges by its own {branch}",
                   f"push {branch} {PUSH_FIRST} {remote} {branch}").text
           for ref in blamed]
    return out + [t for t in refusals if _refused_ref(t) in still]


def _local_only_registry_refs(repo: Repo, remote: str) -> set[str]:
    """Registry tags this clone has and the remote lacks: the remote's state must not include
    them (an unpushed v5 would make pushing v4 look out of sequence). Unknown when the remote
    cannot be listed: then only the refs being pushed are hidden, as before."""
    from gitmv.git.remote import ls_remote

    try:
        theirs = ls_remote(repo, remote)
    except MvError:
        return set()
    return {ref for ref, _ in repo.refs_under(TAG_ROOT) if ref not in theirs}


# ---------------------------------------------------------------- the rules

def stale_refusals(repo: Repo, updates: Sequence[tuple[str, str, str]]) -> list[str]:
    """R3 current-state: each update's old value must be what the server holds now. git takes the
    old values from the pusher and checks them only when it moves each ref, after this hook, one
    ref at a time (unless the push is atomic): judged on a claimed state, a push could have a
    stage tag accepted on notes, or on a version tag, whose own update then fails (a stale or
    forged old value, a "create" of a ref that exists). Refs outside the registry namespace and
    the branches are left to git (their names may not even be text)."""
    out = []
    for old, _new, ref in updates:
        if refrules.parse(ref) is None and not (ref.startswith("refs/heads/") and ref.isascii()):
            continue
        current = repo.ref(ref) or ZERO
        if old != current:
            held = "has no such ref" if current == ZERO else f"has {current[:12]}"
            claimed = "absent" if old == ZERO else old[:12]
            out.append(Refusal(refrules.display(ref), "R3 current-state",
                               f"the push takes {ref} to be {claimed}, but the server {held} (another push came "
                               "first, or the old value was forged)",
                               "fetch and push again: git mv-promote sync").text)
    return out


def name_refusals(updates: Sequence[tuple[str, str, str | bytes]]) -> list[str]:
    """R3 valid-ref-name: any change to a ref in the registry namespace that is not in the grammar
    (gitmv.rules.refs), whatever its old and new values, decided on the name's bytes."""
    out = []
    for _old, _new, ref in updates:
        cause = refrules.name_refusal(ref)
        if cause is not None:
            out.append(Refusal(refrules.display(ref), refrules.RULE_NAME, cause,
                               "use git mv-promote to create registry refs; remove or rename this one "
                               "outside refs/tags/mv and refs/notes/mv-promote*").text)
    return out


def check_updates(repo: Repo, policy, signers: bytes | None, updates: Sequence[tuple[str, str, str | bytes]], *,
                  server_notes: str | None, protected_ref: str, hidden: set[str]) -> list[str]:
    """Refusals for a push. Ref names may be bytes (hook input) or str; refs outside the registry
    namespace are not judged here, and names in it are judged on their bytes before anything else."""
    refusals: list[str] = name_refusals(updates)
    notes_commit = server_notes
    reg_updates = []
    for old, new, ref in updates:
        parsed = refrules.parse(ref)
        if parsed is not None:
            reg_updates.append((old, new, parsed.name))
    notes_base: str | None = None
    for old, new, ref in reg_updates:
        if ref == NOTES_REF:
            try:
                notes_base = _check_notes(repo, old, new, server_notes, signers)
                notes_commit = new
            except Refusal as r:
                refusals += r.texts
        elif ref == ATTESTATIONS_REF:  # judged alone: the old value is the remote's, nothing else reads it
            try:
                _check_notes(repo, old, new, None, signers, ref=ATTESTATIONS_REF)
            except Refusal as r:
                refusals += r.texts
    reg = Registry(repo, policy, signers, notes_commit, hidden=hidden, protected_ref=protected_ref)
    tags = [u for u in reg_updates if u[2] not in (NOTES_REF, ATTESTATIONS_REF)]
    pushed_versions = [(new, ref) for _old, new, ref in tags if VERSION_REF_RE.match(ref) and new != ZERO]
    if notes_commit is not None and notes_commit != server_notes:
        try:
            _check_new_records(reg, policy, notes_base, notes_commit, protected_ref, pushed_versions)
        except Refusal as r:
            refusals += r.texts
    if server_notes is not None:
        # evals that reached the server before their version tag: R9 could not judge them then
        # (no version to find the code and eval command by); it judges them with the tag
        created = [new for old, new, ref in tags if old == ZERO and new != ZERO and VERSION_REF_RE.match(ref)]
        try:
            for target in created:
                _check_evals_already_there(reg, policy, server_notes, target, protected_ref, pushed_versions)
        except Refusal as r:
            refusals += r.texts

    def order(update):
        m = STAGE_REF_RE.match(update[2])
        if m:
            return (1, m.group(1), m.group(2), int(m.group(3)))
        v = VERSION_REF_RE.match(update[2])  # by number: v10 after v9, each judged after the one before
        return (0, v.group(1), "", int(v.group(2))) if v else (0, update[2], "", 0)

    for old, new, ref in sorted(tags, key=order):
        refusal = judge_tag(reg, policy, old, new, ref)
        if refusal is None:
            reg.add_overlay(ref, new)
        else:
            refusals += refusal.texts
    return refusals


def judge_tag(reg: Registry, policy, old: str, new: str, ref: str) -> Refusal | None:
    """The rules for one registry tag update over the view `reg`: None when it is accepted. The
    hook judges each pushed tag with it; `audit` re-judges a published stage tag with the view and
    the policy as they were when it was made (old = ZERO, the ref hidden from the view)."""
    try:
        _check_tag(reg, policy, old, new, ref)
    except Refusal as r:
        return r
    except MvError as exc:
        # a stage tag made by hand (git tag -s) has no stage record, or one that does not parse
        fix = FIX_STAGE_TAG if STAGE_REF_RE.match(ref) else exc.fix or "fix the record and push again"
        return Refusal(ref, "R1 valid-record", exc.cause, fix)
    return None


def _check_notes(repo: Repo, old: str, new: str, server_notes: str | None, signers: bytes | None,
                 ref: str = NOTES_REF) -> str | None:
    """A notes ref (the evidence, or the attestations) only fast-forwards to a commit, and every
    commit the push adds is checked on every parent edge: each changed note canonical and valid,
    holding only its ref's kinds of record, no record removed or altered. A history that merely
    ends well could hide an edge that `verify` would report forever."""
    if new == ZERO:
        raise Refusal(ref, "R3 notes-append-only", "deleting the evidence notes is not allowed",
                      "evidence is append-only; push a notes commit that adds records instead")
    kind = repo.object_type(new)
    if kind != "commit":
        raise Refusal(ref, "R3 notes-valid", f"{ref} must name a notes commit, not {kind or 'a missing object'}",
                      "push the notes ref as git mv-promote writes it ('git mv-promote sync')")
    base = None if old == ZERO else old
    if base is None and server_notes is not None:
        base = server_notes
    if base is not None and not repo.is_ancestor(base, new):
        raise Refusal(ref, "R3 notes-append-only", "non-fast-forward update of the evidence notes",
                      "run 'git mv-promote sync' to merge the server's notes into yours, then push")
    added = ([c["id"] for c in repo.commits_between(base, new, limit=NOTES_COMMITS_LIMIT + 1)] if base
             else repo.notes_history(new))
    if len(added) > NOTES_COMMITS_LIMIT:
        raise Refusal(ref, "R6 bounded", f"the push adds more than {NOTES_COMMITS_LIMIT} notes commits",
                      "push evidence in smaller steps ('git mv-promote sync' after each batch)")
    copies_possible = {commit: _check_notes_commit(repo, commit, signers, ref) for commit in added}
    held = _HeldIds(repo, base)  # then, every edge being sound, what each commit introduces
    for commit, notes_ids in copies_possible.items():
        _check_no_copies(commit, notes_ids, ref, held)
    return base


class _HeldIds:
    """The record ids the server's notes hold on each object (read once per note)."""

    def __init__(self, repo: Repo, base: str | None):
        self._repo, self._base = repo, base
        self._ids: dict[str, set[str]] = {}

    def __call__(self, target: str) -> set[str]:
        if target not in self._ids:
            self._ids[target] = notes.ids_at(self._repo, self._base, target) if self._base else set()
        return self._ids[target]


NOTES_COMMITS_LIMIT = 10000


def _read_or_refuse(repo: Repo, commit: str, target: str, ref: str = NOTES_REF) -> list[dict]:
    try:
        return notes.read_records(repo, commit, target)
    except MvError as exc:
        raise Refusal(ref, "R3 notes-valid", f"note on {target[:12]} in notes commit {commit[:12]} is invalid: "
                      f"{exc.cause}", "write evidence only with git mv-promote") from exc


def _check_new_signatures(before: list[dict], after: list[dict], target: str, signers: bytes | None,
                          ref: str = NOTES_REF) -> None:
    """A record that carries a signature must be signed by its `by` (an allowed signer): one that
    does not verify would make every clone's verify fail forever. Unsigned records may be written
    (they are not evidence outside the research tier)."""
    known = {r["id"] for r in before}
    for rec in after:
        if rec["id"] in known or "signature" not in rec:
            continue
        check = verify_record(rec, signers)
        if not check.ok:
            raise Refusal(ref, "R3 notes-valid", f"record {rec['id']} on {target[:12]}: signature: {check.reason}",
                          "write evidence with git mv-promote, signed with your own key listed in allowed_signers")


def _check_notes_commit(repo: Repo, commit: str, signers: bytes | None,
                        ref: str = NOTES_REF) -> dict[str, tuple[set[str], set[str]]]:
    """Every edge of one pushed notes commit. Returns, for each note it changed on every edge (only
    those can hold a record none of its parents holds: `_check_no_copies`), the record ids it
    holds and those its parents hold, as the edge checks read them."""
    parents = repo.commit_info(commit)["parents"]
    attestations = ref == ATTESTATIONS_REF
    everywhere: set[str] | None = None  # notes changed on every edge: only they can hold a copy
    held_here: dict[str, set[str]] = {}
    held_by_parents: dict[str, set[str]] = {}
    for parent in parents or [None]:
        changed = repo.changed_note_targets(parent, commit)
        everywhere = set(changed) if everywhere is None else everywhere & changed
        for target in sorted(changed):
            after = _read_or_refuse(repo, commit, target, ref)
            for rec in after:
                if (rec.get("kind") in records.ATTESTATION_KINDS) != attestations:
                    raise Refusal(ref, "R3 notes-valid",
                                  f"{rec.get('kind')} record {rec.get('id')} on {target[:12]} belongs in "
                                  f"{NOTES_REF if attestations else ATTESTATIONS_REF}",
                                  "write evidence and attestations only with git mv-promote")
                if not records.record_is_intact(rec):
                    raise Refusal(ref, "R3 notes-valid",
                                  f"record {rec.get('id')} on {target[:12]} does not match its id",
                                  "records are immutable; do not edit notes by hand")
            try:
                before = notes.read_records(repo, parent, target) if parent else []
            except MvError:
                before = []  # an invalid note was refused when its own commit was checked
            held_here[target] = {r["id"] for r in after}
            held_by_parents.setdefault(target, set()).update(r["id"] for r in before)
            _check_new_signatures(before, after, target, signers, ref)
            for rid, what in notes_rules.edge_violations(before, after):  # what: "removed" | "altered"
                raise Refusal(ref, "R3 notes-append-only",
                              f"record {rid} on {target[:12]} would be {what} (notes commit {commit[:12]})",
                              "evidence is append-only; run 'git mv-promote sync' and push the merged notes")
    return {t: (held_here[t], held_by_parents[t]) for t in everywhere or ()}


def _check_no_copies(commit: str, notes_ids: dict[str, tuple[set[str], set[str]]], ref: str, held: _HeldIds) -> None:
    """A pushed notes commit holds no copy of a record the server has (rules.notes.reintroduced):
    `notes_ids` is what `_check_notes_commit` returned for it."""
    for target, (ids, by_parents) in sorted(notes_ids.items()):
        copies = notes_rules.reintroduced(ids, [by_parents], held(target))
        if copies:
            raise Refusal(ref, "R3 notes-append-only",
                          f"notes commit {commit[:12]} holds record {copies[0][:19]}… on {target[:12]} that none of "
                          "its parents holds, though the server has it: a copy, which would change which record "
                          "counts as the newest",
                          "run 'git mv-promote sync' (it merges the server's notes history in) and push the result")


def _check_new_records(reg: Registry, policy, base: str | None, new: str, protected_ref: str,
                       pushed_versions: list[tuple[str, str]]) -> None:
    """R9 over the records this push adds: those in the notes at `new` and not at `base` (the
    server's notes). Records already on the server are never judged again, so evidence written
    before a rule existed stays readable, and a sync merge that brings server records back in is
    not blamed for them. Every edge was already checked to be append-only, so the tip holds every
    record any pushed notes commit added."""
    from gitmv.rules import provenance  # R9: only a push of evidence needs it

    repo = reg.repo
    for target in sorted(repo.changed_note_targets(base, new)):
        after = notes.read_records(repo, new, target)
        before = notes.read_records(repo, base, target) if base else []
        for rid, earlier in provenance.repeated_deprecations(before, after):
            raise Refusal(NOTES_REF, provenance.DEPRECATION_ONCE,
                          f"deprecation record {rid[:19]}… on {target[:12]} repeats the reason and sunset of "
                          f"{earlier[:19]}…", "nothing to do: that version is already deprecated so; to change the "
                          "reason or sunset, 'git mv-promote deprecate' with the new -m/--sunset")
        known = {r["id"] for r in before}
        added = [r for r in after if r["id"] not in known and r.get("kind") == "eval"]
        if added:
            check_eval_provenance(reg, policy, target, added, repo.ref(protected_ref), pushed_versions)


def _check_evals_already_there(reg: Registry, policy, server_notes: str, target: str, protected_ref: str,
                               pushed_versions: list[tuple[str, str]]) -> None:
    """R9 over the evals the server's notes already hold on a version tag this push creates."""
    try:
        held = notes.read_records(reg.repo, server_notes, target)
    except MvError:
        return  # an invalid note on the server names nothing R9 could count
    evals = [r for r in held if r.get("kind") == "eval"]
    if evals:
        check_eval_provenance(reg, policy, target, evals, reg.repo.ref(protected_ref), pushed_versions)


def check_eval_provenance(reg: Registry, policy, target: str, added: list[dict], protected_tip: str | None,
                     pushed_versions: list[tuple[str, str]]) -> None:
    """R9 over eval records on the version tag `target`, against the protected branch at
    `protected_tip` (its tip for a push; its state at a stage tag's time for `audit` and `get`)."""
    from gitmv.rules import provenance  # R9: only a push of evidence needs it

    repo = reg.repo
    tag = repo.tag(target)
    match = VERSION_REF_RE.match(f"refs/tags/{tag.name}") if tag else None
    if tag is None or match is None or match.group(1) not in policy.models:
        return  # not on a version: no gate reads it (a model not in the policy is refused as R2)
    mp = policy.models[match.group(1)]
    if mp.tier == "research":
        return
    try:
        version = reg.version_by_tag(target, f"refs/tags/{tag.name}")
    except MvError:
        return  # a version tag that does not parse is no version; its own push is refused (R1/R3)
    protected = _eval_command_at(repo, protected_tip, mp.name, policy) if protected_tip else None
    roots = [version.record.commit, *(t for t in (protected_tip,) if t)]
    for new_tag, ref in pushed_versions:
        pushed = repo.tag(new_tag, ref)
        if pushed is not None and ref.startswith(model_tags_prefix(mp.name)):
            roots.append(pushed.target)
    try:
        latest = reg.latest(mp.name)
        if latest:
            roots.append(reg.version(mp.name, latest).record.commit)
    except MvError:
        pass  # the server's newest version does not parse: one place fewer to find the code in
    for rec in sorted(added, key=lambda r: r["id"]):
        code_commit = rec.get("code_commit")
        facts = None
        if isinstance(code_commit, str) and code_commit:
            kind = repo.object_type(code_commit) if len(code_commit) == 40 else None
            facts = provenance.EvalFacts(
                code_commit_kind=kind,
                reachable=kind == "commit" and any(repo.is_ancestor(code_commit, root) for root in dict.fromkeys(roots)),
                at_commit=_eval_command_at(repo, code_commit, mp.name) if kind == "commit" else None,
                protected=protected, protected_branch=policy.protected_branch)
        problems = provenance.eval_problems(rec, facts)
        if problems:
            what = f"eval record {rec['id'][:19]}… on {mp.name} {version.record.version}"
            fix = (f"run 'git mv-promote eval {mp.name} {version.record.version}' on an up-to-date "
                   f"{policy.protected_branch} (its commits pushed: git push origin {policy.protected_branch}), "
                   "then push refs/notes/mv-promote; evidence written by hand is not accepted")
            lines = [(provenance.PROVENANCE, f"{what}: {p}", fix) for p in problems]
            raise Refusal(NOTES_REF, *lines[0], more=tuple(lines[1:]))


def _eval_command_at(repo: Repo, commit: str, model: str, policy=None) -> tuple[str, str] | None:
    """(the eval command of `model`, its digest with the files it names) as of `commit`: under the
    policy committed there, or under `policy` when given (the server's, read from that commit)."""
    from gitmv.rules import provenance  # R9: only a push of evidence needs it

    if policy is None:
        raw = repo.blob_at(commit, POLICY_PATH)
        if raw is None:
            return None
        try:
            policy = parse_policy(raw, f"{POLICY_PATH} at {commit[:12]}")
        except MvError:
            return None
    mp = policy.models.get(model)
    if mp is None or not mp.eval_command:
        return None
    blobs = repo.blob_ids(commit, provenance.command_paths(mp.eval_command))
    return mp.eval_command, provenance.command_digest(mp.eval_command, blobs)


def _check_tag(reg: Registry, policy, old: str, new: str, ref: str) -> None:
    if old != ZERO and new == ZERO:
        raise Refusal(ref, "R3 immutable", "deleting a registry tag is not allowed",
                      "roll back with a new stage tag: git mv-promote rollback MODEL --stage STAGE")
    if old != ZERO:
        raise Refusal(ref, "R3 immutable", f"moving a registry tag ({old[:12]} -> {new[:12]}) is not allowed",
                      "register a new version instead; published versions never change")
    vm, sm = VERSION_REF_RE.match(ref), STAGE_REF_RE.match(ref)
    match = vm or sm
    if match is None:  # check_updates passes only names in the grammar; kept as a guard
        raise Refusal(refrules.display(ref), refrules.RULE_NAME, f"not a registry ref name ({refrules.GRAMMAR})",
                      "use git mv-promote to create registry tags")
    tag = reg.repo.tag(new, ref)
    if tag is None:
        raise Refusal(ref, "R3 annotated-only", "a lightweight tag (or not a tag object) under refs/tags/mv/",
                      "registry tags are signed annotated tags made by git mv-promote")
    own = reg.repo.tag(new)  # as the object names itself: where R9 and R1 look its version up
    if own is None or f"refs/tags/{own.name}" != ref:
        raise Refusal(ref, "R3 valid-record",
                      f"the tag object names itself {refrules.display(own.name if own else '?')!r}, not "
                      f"{refrules.display(ref[len('refs/tags/'):])!r}",
                      "registry tags are made by git mv-promote under their own name; make it again with it")
    model = match.group(1)
    if model not in policy.models:
        raise Refusal(ref, "R2 policy", f"model '{model}' is not in the policy on {policy.protected_branch}",
                      f"add [models.{model}] to {POLICY_PATH} on {policy.protected_branch} first")
    mp = policy.models[model]
    if vm:
        _check_version_tag(reg, mp, tag, ref)
    else:
        _check_stage_tag(reg, policy, mp, tag, ref, match.group(2), int(match.group(3)))


def _check_version_tag(reg: Registry, mp, tag, ref: str) -> None:
    if tag.target_type != "commit":
        raise Refusal(ref, "R3 valid-record", f"a version tag must point at a commit, not a {tag.target_type}",
                      "register with git mv-promote register")
    version = reg.version_by_tag(tag.id, ref)  # record parses and matches the ref and target
    if mp.signed:
        sig = reg.signature(tag)
        if not sig.ok:
            raise Refusal(ref, "R1 signed-version", f"{sig.reason} ({mp.tier} tier)", FIX_SIGN)
    # the next number only: a far-ahead v999999999 would leave the model no number to grow into
    # (versions pushed together are judged in number order, each against the state the earlier left)
    own = records.version_number(version.name)
    nums = reg.version_numbers(mp.name)  # ascending; the highest other than this ref's own number
    expected = max((n for n in nums[-2:] if n != own), default=0) + 1
    if records.version_number(version.name) != expected:
        raise Refusal(ref, "R1 version-seq", f"{version.name} but the server's next {mp.name} version is v{expected}",
                      f"run 'git mv-promote sync' (it renumbers unpublished versions), or register again "
                      f"to get v{expected}")
    paths, wanted = sorted(version.record.artifacts), sorted(mp.artifacts)
    if not paths or paths != wanted:
        raise Refusal(ref, "R1 version-artifacts",
                      f"the record's artifacts ({', '.join(paths) or 'none'}) are not exactly the policy's "
                      f"({', '.join(wanted) or 'none'}) for {mp.name} on {reg.policy.protected_branch}",
                      f"register with the policy's artifacts (git mv-promote register {mp.name}), "
                      f"or change models.{mp.name}.artifacts on {reg.policy.protected_branch} first")
    uris = sorted(version.record.uri_artifacts)
    refusal = artifact_rules.tier_refusal(mp.tier, uris)
    if refusal:
        raise Refusal(ref, "R1 version-artifacts", refusal,
                      f"keep {mp.name}'s artifacts in Git or DVC (e.g. dvc import-url) and register them, "
                      f"or lower models.{mp.name}.tier on {reg.policy.protected_branch}")
    # an artifact stored in Git at the tagged commit must have the digest the record claims: a
    # record naming another version's digest would borrow that version's evals (one recorded by
    # URI names no bytes here: nothing to compare, and nothing can bind to it without a sha256)
    commit = version.record.commit
    stored = {path: meta for path, meta in version.record.artifacts.items() if path not in uris}
    committed = {path: _sha256_or_none(reg.repo.blob_at(commit, path)) for path in stored}
    for path, meta in sorted(stored.items()):
        have = committed[path]
        if have is not None and have != meta["sha256"]:
            raise Refusal(ref, "R1 version-artifacts",
                          f"{path} at commit {commit[:12]} has sha256 {have[:12]}…, but the record claims {meta['sha256'][:12]}…",
                          f"register with git mv-promote register {mp.name}")
    if mp.tier == "research":
        return
    # R9: outside the research tier the version must be retrievable at its commit, as `register`
    # demands: committed there, or pinned by DVC there (a .dvc file or a dvc.lock out); artifacts
    # recorded by URI are never fetched by this tool and answer to the tier rule above instead
    from gitmv.rules import provenance  # R9: only a push of a version needs it

    facts = {path: provenance.ArtifactFacts(sha, None if sha is not None else _dvc_pin(reg.repo, commit, path))
             for path, sha in committed.items()}
    problems = provenance.artifact_problems(stored, facts, commit)
    if problems:
        fix = (f"commit the artifact, or 'dvc add' it and commit its .dvc file (and 'dvc push'), then register "
               f"again with git mv-promote register {mp.name}; or put {mp.name} in the research tier")
        raise Refusal(ref, provenance.RETRIEVABLE, problems[0], fix,
                      more=tuple((provenance.RETRIEVABLE, p, fix) for p in problems[1:]))


def _sha256_or_none(blob: bytes | None) -> str | None:
    return hashlib.sha256(blob).hexdigest() if blob is not None else None


def _dvc_pin(repo: Repo, commit: str, path: str) -> dict | None:
    """The DVC pin covering `path` at `commit` (`<path>.dvc` or a dvc.lock out); a pin file that
    does not parse pins nothing."""
    from gitmv.dvc import pins as dvcpins  # blob reads only; no dvc import

    read = lambda p: repo.blob_at(commit, p)
    try:
        found = dvcpins.read_pins(read, [f"{path}.dvc"] if read(f"{path}.dvc") is not None else [])
    except MvError:
        return None
    return dvcpins.pins_by_path(found).get(path)


def _check_stage_tag(reg: Registry, policy, mp, tag, ref: str, stage: str, seq: int) -> None:
    model = mp.name
    if stage not in policy.stages:
        raise Refusal(ref, "R2 policy", f"stage '{stage}' is not in the policy's stages ({', '.join(policy.stages)})",
                      "use a stage the policy on the protected branch defines")
    if tag.target_type != "tag":
        raise Refusal(ref, "R1 stage-target", f"a stage tag must point at a version tag object, not a {tag.target_type}",
                      FIX_STAGE_TAG)
    record = reg.stage_entry(ref, tag.id).record
    target_tag = reg.repo.tag(tag.target)
    vm = VERSION_REF_RE.match(f"refs/tags/{target_tag.name}") if target_tag else None
    if not vm or vm.group(1) != model or vm.group(2) != record.version.lstrip("v"):
        raise Refusal(ref, "R1 stage-target", f"points at {tag.target[:12]}, not at a version tag of {model}",
                      FIX_STAGE_TAG)
    registered = reg.version_tag_id(model, record.version)
    if registered != tag.target:
        raise Refusal(ref, "R1 stage-target",
                      f"{model} {record.version} is not registered on the server as {tag.target[:12]}",
                      f"push {version_ref(model, record.version)} in the same push")
    seqs = reg.stage_seqs(model, stage)
    expected = seqs[-1][0] + 1 if seqs else 1
    if seq != expected:
        raise Refusal(ref, "R1 seq", f"seq {seq} but the server's next {stage} seq is {expected}",
                      "run 'git mv-promote sync', then promote again")
    sig = reg.signature(tag)
    if (mp.signed or policy.is_protected(stage)) and not sig.ok:
        raise Refusal(ref, "R1 signed-stage-tag", sig.reason, FIX_SIGN)
    previous = reg.current(model, stage)
    _check_traffic(policy, record, previous.record if previous else None, ref)  # R8
    eval_fact: object = stage_record.UNKNOWN
    approval_fact: object = stage_record.UNKNOWN
    if record.kind == rollout_rules.ROLLOUT_KIND and previous is not None:
        # a share change repeats the entry it changes: its eval and approval are that entry's
        eval_fact, approval_fact = previous.record.eval_record, previous.record.approval
        if policy.is_protected(stage):
            _stage_verdict(reg, policy, mp, record, stage, ref, tag.tagger_time)
    elif policy.is_protected(stage):
        verdict = _stage_verdict(reg, policy, mp, record, stage, ref, tag.tagger_time)
        eval_fact = verdict.eval_record["id"] if verdict.eval_record else None
        approval_fact = verdict.approval
    else:
        # the soak guards every stage after its own, protected or not
        _check_soak(reg, policy, mp, record, stage, ref, tag.tagger_time)
    if record.eval_record is not None and not policy.is_protected(stage):
        version = reg.version(model, record.version)
        if record.eval_record not in {r["id"] for r in reg.evals(version, None)}:
            raise Refusal(ref, "R1 stage-record", f"eval_record: {record.eval_record} is not a valid eval of "
                          f"{model} {record.version} bound to its artifact digests",
                          "push refs/notes/mv-promote with the eval, or promote again ('git mv-promote promote')")
    found = stage_record.mismatches(record, stage_record.StageFacts(
        target_version=record.version, previous_version=previous.record.version if previous else None,
        previous_seq=previous.seq if previous else 0, previous_time=previous.tag.tagger_time if previous else None,
        tagger_time=tag.tagger_time, signer=sig.principal if sig.ok else None, fingerprint=sig.fingerprint,
        policy_digests=frozenset({policy.digest}), now=int(time.time()), eval_record=eval_fact, approval=approval_fact))
    if found:
        fix = (f"{FIX_STAGE_TAG}, against the server's state: git mv-promote sync; "
               f"git mv-promote promote {model} {record.version} --stage {stage}")
        claims = [("R1 stage-record", f"the stage record's claim does not hold: {f}", fix) for f in found]
        raise Refusal(ref, *claims[0], more=tuple(claims[1:]))


def _check_traffic(policy, record, previous, ref: str) -> None:
    """R8: the traffic share a stage record claims (rules/rollout.py)."""
    found = rollout_rules.traffic_mismatches(record, rollout_stage=policy.is_rollout(record.stage), previous=previous)
    if found:
        fix = (f"set shares with 'git mv-promote rollout {record.model} {record.version} --stage {record.stage} "
               f"--traffic N' (rollout stages: {', '.join(policy.rollout_stages) or 'none'})")
        claims = [(rollout_rules.RULE, f"the stage record's claim does not hold: {f}", fix) for f in found]
        raise Refusal(ref, *claims[0], more=tuple(claims[1:]))


def _check_soak(reg: Registry, policy, mp, record, stage: str, ref: str, at: int) -> None:
    """The soak on a stage the hook does not otherwise gate (an unprotected one). Measured over
    the soak stage as it is live before the push, as the gate's own check is: a canary tag that
    never reached the server never served traffic from it."""
    if record.kind == "promote" and soak_rules.applies(policy, mp.gate.soak, stage, record.kind):
        from gitmv.rules import promotion as rules  # the gate: only when a soak applies

        found = rules.soak_criterion(reg.before_stage_overlay(), mp.name, record.version, at)
        if not found.passed:
            raise Refusal(ref, "R1 soak", f"{found.name}: {found.detail}", _soak_fix(mp.name, record.version, stage))


def _soak_fix(model: str, version: str, stage: str) -> str:
    return (f"promote once the soak is over (see 'git mv-promote check {model} {version} --stage {stage}' "
            "against the server's state)")


def _stage_verdict(reg: Registry, policy, mp, record, stage: str, ref: str, at: int):
    """The gate (or rollback or rollout rules) over the server's state, at the stage tag's time;
    refuses when it fails."""
    from gitmv import approvals  # the gate: only a protected stage needs it
    from gitmv.rules import promotion as rules

    model = mp.name
    # (reads reg.protected_ref) approvers' signatures valid now and at the tag's own time: as
    # strict as `verify`, which judges them at the tag's time, and a revoked key cannot approve
    # through a backdated tag
    check = lambda r, v, s, n: approvals.check(r, v, s, n, at=(None, at))
    if record.kind == "rollback":
        verdict = rules.rollback_verdict(reg, model, stage, record.version, approval_check=check)
    elif record.kind == rollout_rules.ROLLOUT_KIND:
        verdict = rules.rollout_verdict(reg, model, stage, record.version)
    else:
        verdict = rules.promotion_verdict(reg, model, record.version, stage, approval_check=check, at=at)
    failures = verdict.failures()
    if not failures and record.kind == "promote" and any(
            STAGE_REF_RE.match(r) and r.startswith(model_tags_prefix(model)) for r in reg.overlay):
        # a stage tag earlier in this push (say, a rollback to a weak version) was never live:
        # the promotion must also pass against what is live on the server before the push
        live = rules.promotion_verdict(reg.before_stage_overlay(), model, record.version, stage, approval_check=check,
                                       at=at)
        failures = [Criterion(c.name, c.passed, f"{c.detail} (against the state live before this push)")
                    for c in live.failures()]
    if failures:
        first = failures[0]
        rule = {"eval": "R1 eval", "approvals": "R1 approvals", "not deprecated": "R1 deprecated",
                "signature": "R1 signed-version", "tier": "R1 tier", "soak": "R1 soak", "replay": "R1 replay",
                "current": rollout_rules.RULE, "rollout stage": rollout_rules.RULE}.get(first.name, "R1 gate")
        fix = {"R1 eval": f"run 'git mv-promote eval {model} {record.version}' and push refs/notes/mv-promote",
               "R1 replay": f"run 'git mv-promote replay {model} {record.version}' and push refs/notes/mv-promote; "
                            "a replay below the policy's bound needs a better candidate",
               "R1 approvals": f"get 'git mv-promote request {model} {record.version} --stage {stage}' approved by "
                               "another allowed signer ('git mv-promote approve' or a signed merge) and merged into "
                               f"{policy.protected_branch}, then promote again",
               "R1 soak": _soak_fix(model, record.version, stage)}.get(
            rule, f"see 'git mv-promote check {model} {record.version} --stage {stage}' against the server's state")
        lines = [(rule, f"{c.name}: {c.detail}", fix) for c in failures]  # one line each, the first's rule
        raise Refusal(ref, *lines[0], more=tuple(lines[1:]))
    return verdict


# ---------------------------------------------------------------- R7 the protected branch

SIDE_LIMIT = 5000  # commits on a merged side; a longer side is refused rather than half-examined


def protected_branch_state(repo: Repo):
    """(protected branch refs, current policy or None, its allowed signers, its host signers, error).

    The refs are the branch the server starts from (`mvpromote.protectedBranch`, else HEAD) and the
    branch its policy names: `load_server_policy` reads both, so both are guarded. None for the
    policy means the server has none yet (bootstrap). `gitmv.hooks.protected_refs_fast` computes
    the same set without pygit2; keep the two in step. `error` (an MvError) when a policy cannot
    be read; refs is then None if even the set of protected branches is unknown."""
    server_ref = _server_branch(repo)
    tip = repo.ref(server_ref)
    raw = repo.blob_at(tip, POLICY_PATH) if tip else None
    if tip is None or raw is None:
        return {server_ref}, None, None, None, None
    try:
        policy = parse_policy(raw, f"{POLICY_PATH} on {server_ref}")
    except MvError as exc:
        return None, None, None, None, exc
    wanted = f"refs/heads/{policy.protected_branch}"
    refs = {server_ref, wanted}
    if wanted != server_ref:
        wanted_tip = repo.ref(wanted)
        wanted_raw = repo.blob_at(wanted_tip, POLICY_PATH) if wanted_tip else None
        if wanted_tip is not None and wanted_raw is not None:
            try:
                policy, tip = parse_policy(wanted_raw, f"{POLICY_PATH} on {wanted}"), wanted_tip
            except MvError as exc:
                return refs, None, None, None, exc
    signers = repo.blob_at(tip, policy.allowed_signers)
    hosts = repo.blob_at(tip, policy.host_signers) if policy.host_signers else None
    return refs, policy, signers, hosts, None


def check_protected_branch(repo: Repo, updates: list[tuple[str, str, str]]) -> list[str]:
    heads = [u for u in updates if u[2].startswith("refs/heads/")]
    if not heads:
        return []
    from gitmv.rules import branch_guard  # R7: only a push of a branch needs it

    refs, policy, signers, hosts, error = protected_branch_state(repo)
    if error is not None:  # fail closed for the guarded branches (all branches when unknown)
        return [Refusal(ref, branch_guard.RULE, f"the server's policy cannot be read: {error.cause}",
                        "ask the server's admin to repair the policy on the protected branch").text
                for _, _, ref in heads if refs is None or ref in refs]
    out = []
    for old, new, ref in heads:
        if ref in refs:
            facts = _branch_facts(repo, refs, policy, signers, hosts, old, new, ref)
            out += [Refusal(f.ref, f.rule, f.cause, f.fix).text for f in branch_guard.judge(facts)]
    return out


def _branch_facts(repo: Repo, refs: set, policy, signers, hosts, old: str, new: str, ref: str):
    from gitmv import approvals  # R7: only a push of a branch needs these
    from gitmv.rules import branch_guard
    from gitmv.rules.branch_guard import BranchCommit, Change, UpdateFacts

    guarded = [branch_guard.PROMOTIONS]
    if new == ZERO:
        return UpdateFacts(ref, deleting=True)
    new_policy, policy_error = None, None
    raw = repo.blob_at(new, POLICY_PATH)
    if raw is not None:
        try:
            new_policy = parse_policy(raw, POLICY_PATH)
        except MvError as exc:
            policy_error = exc.cause
    if policy is None:
        return UpdateFacts(ref, bootstrap=True, policy_error=policy_error)
    if old != ZERO and not repo.is_ancestor(old, new):
        return UpdateFacts(ref, fast_forward=False, policy_error=policy_error)
    paths = sorted({POLICY_PATH, policy.allowed_signers, policy.host_signers,
                    *((new_policy.allowed_signers, new_policy.host_signers) if new_policy else ())} - {None})
    hide = [old] if old != ZERO else [t for t in (repo.ref(r) for r in sorted(refs) if r != ref) if t]
    commits = []
    chain = repo.first_parent_new(new, hide)
    # Fix 1 of the review: the per-commit diffs below only cover old -> new when old is on new's
    # first-parent chain; else a merge taking an old commit as first parent undoes changes unseen.
    tip_changes: tuple[str, ...] = ()
    on_chain = True
    if old != ZERO:
        tip_changes = tuple(repo.changed_paths(old, new, paths, guarded))
        on_chain = old == new or any(repo.commit_info(c)["parents"][:1] == [old] for c in chain)
    for cid in chain:
        info = repo.commit_info(cid)
        parents = info["parents"]
        changed = repo.changed_paths(parents[0] if parents else None, cid, paths, guarded)
        if not changed:
            continue
        changes = []
        bases = repo.merge_bases(parents[0], parents[1]) if len(parents) == 2 else []
        for path in changed:
            blob = repo.blob_at(cid, path)
            side = len(parents) == 2 and blob == repo.blob_at(parents[1], path)
            first = repo.blob_at(parents[0], path) if parents else None
            current = len(parents) != 2 or bool(bases) and all(repo.blob_at(b, path) == first for b in bases)
            changes.append(Change(path, hashlib.sha256(blob).hexdigest() if blob is not None else None, side,
                                  current))
        if len(parents) != 2:
            commits.append(BranchCommit(cid, len(parents), tuple(changes)))
            continue
        side_commits = repo.commits_between(parents[0], parents[1], limit=SIDE_LIMIT)
        approves: list[branch_guard.Approve] = []
        authors: set[str] = set()
        for sc in side_commits:
            sinfo = repo.commit_info(sc["id"])
            sp = sinfo["parents"]
            bindings = branch_guard.approve_bindings(sinfo["message"])
            touched = repo.changed_paths(sp[0] if sp else None, sc["id"], paths, guarded)
            if not bindings and not touched:
                continue
            sig = verify_commit(repo.read_raw(sc["id"]), signers)
            principal = sig.principal if sig.ok else None
            if touched:  # names can only remove approvers, never add one
                authors.update(x for x in (principal, approvals.email_of(sinfo["author"])) if x)
            if bindings:
                approves.append(branch_guard.Approve(sc["id"], principal, bindings))
        commits.append(BranchCommit(cid, 2, tuple(changes), approvals.merge_fact(repo, info, signers, hosts).principal,
                                    repo.tree_id(parents[1]), tuple(approves), frozenset(authors),
                                    len(side_commits) < SIDE_LIMIT))
    return UpdateFacts(ref, needed=policy.policy_approvals, commits=tuple(commits), policy_error=policy_error,
                       old_on_first_parent=on_chain, tip_changes=tip_changes)
