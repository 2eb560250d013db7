"""`request` and `approve`: the pull-request side of a promotion; `approvals`."""

from __future__ import annotations

import os

from gitmv.errors import ConflictError, MvError, NotFoundError, RefusedError
from gitmv.git.remote import push_branch
from gitmv.hashing import sha256_bytes
from gitmv.ops.context import gate_refusal, now, open_context, require_complete, require_current
from gitmv.names import check_names
from gitmv.ops.inspect import diff_in
from gitmv.rules import promotion as rules


def request(model: str, version: str, stage: str, *, reason: str = "", push: bool = False, remote: str = "origin",
            offline: bool = False, path: str | os.PathLike = ".") -> dict:
    """Open a promotion request: a branch whose one commit writes the request file and the
    reviewer's page. Every gate criterion but approvals must already pass. The model's registry
    tags are compared with `remote`'s first (`offline` skips it): a request against a stale stage
    would show the reviewer the wrong baseline."""
    from gitmv.ops import request_page as request_mod

    check_names(model, version)
    ctx = open_context(path)
    what = f"request {model} {version} for {stage}"
    require_complete(ctx, what)
    ctx.warnings.extend(require_current(ctx, model, what, remote=remote, offline=offline))
    reg, repo, policy = ctx.registry, ctx.repo, ctx.policy
    mp = policy.model(model)
    verdict = rules.promotion_verdict(reg, model, version, stage, count_approvals=False, check_soak=False)
    if not verdict.passed:
        raise RefusedError(gate_refusal(f"request for {model} {version} in {stage} refused by the gate",
                                        verdict.failures()),
                           f"see 'git mv-promote check {model} {version} --stage {stage}'")
    v = reg.version(model, version)
    base_ref = f"refs/heads/{policy.protected_branch}"
    base = repo.ref(base_ref) or repo.ref(f"refs/remotes/{remote}/{policy.protected_branch}")
    if base is None:
        raise NotFoundError(f"protected branch {policy.protected_branch} not found", f"git fetch {remote} {policy.protected_branch}")
    branch = request_mod.branch_name(model, version, stage)
    branch_ref = f"refs/heads/{branch}"
    req = request_mod.request_record(verdict, v.tag.id, repo.identity(), now(), reason)
    changes = diff_in(ctx, model, verdict.baseline, version) if verdict.baseline and verdict.baseline != version else None
    replayed = verdict.replay_record
    if replayed is None and verdict.baseline and verdict.baseline != version:
        replayed = rules.counted_replay(reg, mp, v, reg.version(model, verdict.baseline))
    page = request_mod.render_page(model_policy=mp, policy=policy, verdict=verdict, req=req, diff=changes,
                                   candidate_sizes=v.record.artifacts, replay=replayed)
    existing = repo.ref(branch_ref)
    if existing is not None:
        raise RefusedError(f"branch {branch} already exists",
                           f"push it and open the pull request, or delete it (git branch -D {branch}) and request again")
    # Signed: the requester is whoever signed this commit, never the file's `requester` text.
    commit = repo.commit_files(base, request_mod.files_for(model, stage, req, page),
                               request_mod.commit_message(model, version, stage, reason), sign=mp.signed)
    if not repo.update_ref(branch_ref, commit, None, f"mv-promote: request {model} {version} -> {stage}"):
        raise ConflictError(f"branch {branch} appeared while writing it", "run the command again")
    pushed = None
    if push:
        from gitmv.ops import sync as sync_mod

        try:
            pushed = sync_mod.sync(repo, remote)
            push_branch(repo, remote, branch)
        except MvError as exc:
            # a refused push leaves nothing behind: the branch goes again (only if it is still ours)
            removed = repo.delete_ref(branch_ref, commit)
            what = (f"removed the request branch {branch} again" if removed
                    else f"left the request branch {branch}: it moved meanwhile")
            again = f"git mv-promote request {model} {version} --stage {stage} --push"
            raise type(exc)(f"{exc.cause}\n  request for {model} {version} in {stage} not pushed; {what}",
                            f"{exc.fix}; then request again: {again}" if exc.fix else again) from None
    title = f"Promote {model} {version} to {stage}"
    body = f"$(git show {branch}:promotions/{model}/{stage}.md)"
    nxt = [] if push else [f"git push {remote} {branch} && git mv-promote sync {remote}"]
    nxt += [f'gh pr create --base {policy.protected_branch} --head {branch} --title "{title}" --body "{body}"',
            f'glab mr create --source-branch {branch} --target-branch {policy.protected_branch} --title "{title}" '
            f'--description "{body}"',
            f"after the merge: git pull && git mv-promote promote {model} {version} --stage {stage}"]
    return {"model": model, "version": version, "stage": stage, "branch": branch, "commit": commit,
            "request": req, "page": page, "verdict": verdict.to_dict(), "pushed": pushed, "next": nxt,
            "warnings": ctx.warnings}


def approve(model: str, version: str, stage: str, *, reason: str = "", push: bool = False, remote: str = "origin",
            path: str | os.PathLike = ".") -> dict:
    """Approve a promotion request: a signed empty commit on its branch naming the request file's
    sha256 (an edit of the file afterwards voids it). Refuses one's own request and any signature
    the protected branch's allowed signers do not know; touches neither index nor work tree."""
    from gitmv import approvals as approvals_mod
    from gitmv.ops import request_page as request_mod

    check_names(model, version)
    ctx = open_context(path)
    require_complete(ctx, f"approve {model} {version} for {stage}", needs=("history",))
    reg, repo, policy = ctx.registry, ctx.repo, ctx.policy
    policy.stage_index(stage)
    v = reg.version(model, version)
    branch = request_mod.branch_name(model, version, stage)
    branch_ref = f"refs/heads/{branch}"
    local, tracking = repo.ref(branch_ref), repo.ref(f"refs/remotes/{remote}/{branch}")
    if local is None and tracking is None:
        raise NotFoundError(f"no request branch {branch} here or in {remote}",
                            f"git fetch {remote}, or ask for it: git mv-promote request {model} {version} --stage {stage}")
    # Build on the newest tip we know: the remote's when it already contains ours (another approval).
    tip = tracking if local is None or (tracking and repo.is_ancestor(local, tracking)) else local
    assert tip is not None  # one of the two exists (checked above)
    file = approvals_mod.request_path(model, stage)
    raw = repo.blob_at(tip, file)
    if raw is None or not approvals_mod.names_version(raw, v, stage):
        raise RefusedError(f"branch {branch} has no {file} naming {model} {version}",
                           f"request it again: git mv-promote request {model} {version} --stage {stage}")
    protected = approvals_mod.protected_tip(reg)
    if protected is None:
        raise NotFoundError(f"protected branch {policy.protected_branch} not found",
                            f"git fetch {remote} {policy.protected_branch}")
    request_commit = approvals_mod.request_commit_on(repo, tip, protected, file)
    if request_commit is None:
        raise RefusedError(f"{branch} has no commit writing {file} that is not already on {policy.protected_branch}",
                           f"fetch both again (git fetch {remote}); a merged request needs no approve commit")
    requester = approvals_mod.signer(reg, request_commit, protected)
    if not requester.ok:
        raise RefusedError(f"the request commit {request_commit[:12]} is not signed by an allowed signer "
                           f"({requester.reason}), so no approval of it can count",
                           "ask the requester to request again with signing set up")
    digest = sha256_bytes(raw)
    message = approvals_mod.approve_message(model, version, stage, digest, reason)
    commit = repo.commit_files(tip, {}, message, sign=True)
    mine = approvals_mod.signer(reg, commit, protected)
    if not mine.ok:
        raise RefusedError(f"your approval would not count: its signature: {mine.reason}",
                           f"sign with a key listed in {policy.allowed_signers} on {policy.protected_branch} "
                           "(git config user.signingkey)")
    if requester.principal == mine.principal:
        raise RefusedError(f"{mine.principal} signed the request {request_commit[:12]}; the requester never approves "
                           "their own request", "ask another allowed signer to run 'git mv-promote approve'")
    if not repo.update_ref(branch_ref, commit, local, f"mv-promote: approve {model} {version} -> {stage}"):
        raise ConflictError(f"branch {branch} moved while approving", "run the command again")
    pushed = False
    if push:

        push_branch(repo, remote, branch)
        pushed = True
    return {"model": model, "version": version, "stage": stage, "branch": branch, "commit": commit,
            "request_commit": request_commit, "request_sha256": digest, "approver": mine.principal,
            "requester": requester.principal, "pushed": pushed, "remote": remote,
            "next": [] if pushed else [f"git push {remote} {branch}"], "warnings": ctx.warnings}


def approvals_status(model: str, version: str, stage: str | None = None, path: str | os.PathLike = ".") -> dict:
    """What approval evidence is recorded for a version, and what each protected stage still needs."""
    from gitmv import approvals as approvals_mod

    check_names(model, version)
    ctx = open_context(path)
    require_complete(ctx, f"read the approvals of {model} {version}", needs=("history",))
    reg, policy = ctx.registry, ctx.policy
    mp = policy.model(model)
    v = reg.version(model, version)
    recorded = [r for r in reg.records_of(v.tag.id, "approval")]
    stages = [stage] if stage else list(policy.protected_stages)
    out = []
    for s in stages:
        policy.stage_index(s)
        needed = mp.required_approvals if policy.is_protected(s) else 0
        found, why = approvals_mod.find(reg, v, s)
        have = found["approvers"] if found else []
        out.append({"stage": s, "required": needed, "approvers": have, "merge_commit": (found or {}).get("merge_commit"),
                    "pr": (found or {}).get("pr"), "missing": max(needed - len(have), 0),
                    "requester": (found or {}).get("requester"), "approvals": (found or {}).get("approvals", []),
                    "not_counted": (found or {}).get("not_counted", []), "trailers": (found or {}).get("trailers", []),
                    "why": why if found is None else ""})
    return {"model": model, "version": version, "recorded": recorded, "stages": out, "warnings": ctx.warnings}
