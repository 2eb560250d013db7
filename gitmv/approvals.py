"""Approval by pull-request review, read back from the protected branch.

Evidence is a merge commit M on the protected branch's first-parent history whose first parent
did not name this version in `promotions/<model>/<stage>.toml` and M does. The branch's current
file must still be the requested one (byte for byte the file the request commit wrote), so a
later request supersedes an earlier approval and an edit after review voids it. Approvers are the
`Approved-by:` / `Reviewed-by:` trailers of M and whoever merged M (its committer, or its author
for a host's web merge), distinct by e-mail; the requester never counts.
"""

from __future__ import annotations

import hashlib
import re
import tomllib

from gitmv.rules.gate import Criterion
from gitmv.registry import Registry, Version

TRAILER_RE = re.compile(r"^(Approved-by|Reviewed-by):\s*(.+?)\s*$", re.M | re.I)
EMAIL_RE = re.compile(r"<([^>]+)>")
PR_RE = re.compile(r"(?:pull request #|\(#|merge request !|!|#)(\d+)")
REQUEST_TRAILER = "Mv-Promote-Request"
WALK_LIMIT = 20000


def request_path(model: str, stage: str) -> str:
    return f"promotions/{model}/{stage}.toml"


def page_path(model: str, stage: str) -> str:
    return f"promotions/{model}/{stage}.md"


def _email(identity: str) -> str:
    m = EMAIL_RE.search(identity)
    return (m.group(1) if m else identity).strip().lower()


def protected_tip(reg: Registry) -> str | None:
    if reg.protected_ref:
        return reg.repo.ref(reg.protected_ref)
    branch = reg.policy.protected_branch
    return reg.repo.ref(f"refs/heads/{branch}") or reg.repo.ref(f"refs/remotes/origin/{branch}")


# Committer identities of hosts' web merges: the person who clicked merge is then the author.
HOST_COMMITTERS = ("noreply@github.com",)


def merger(merge: dict) -> str:
    """Who merged: the committer, except for a host's web merge, where it is the author."""
    if _email(merge["committer"]) in HOST_COMMITTERS:
        return merge["author"]
    return merge["committer"]


def _parse_request(raw: bytes | None) -> dict | None:
    if raw is None:
        return None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None


def _names_version(req: dict | None, version: Version) -> bool:
    return bool(req) and req.get("version") == version.name and req.get("version_tag") == version.tag.id


def find(reg: Registry, version: Version, stage: str, tip: str | None = None) -> tuple[dict | None, str]:
    """(evidence, "") when a merged, unchanged request for this version exists; else (None, why not)."""
    repo = reg.repo
    tip = tip or protected_tip(reg)
    branch = reg.policy.protected_branch
    path = request_path(version.record.model, stage)
    if tip is None:
        return None, f"protected branch {branch} not found"
    current_raw = repo.blob_at(tip, path)
    current = _parse_request(current_raw)
    if current is None:
        return None, f"{branch} has no {path}: run 'git mv-promote request {version.record.model} {version.name} --stage {stage}' and get it merged"
    if not _names_version(current, version):
        return None, f"{branch}'s {path} names {current.get('version')} ({str(current.get('version_tag'))[:12]}), not {version.name}"
    for n, info in enumerate(repo.first_parent_walk(tip)):
        if n >= WALK_LIMIT:
            break
        parents = info["parents"]
        here = repo.blob_at(info["id"], path)
        before = repo.blob_at(parents[0], path) if parents else None
        if _names_version(_parse_request(here), version) and not _names_version(_parse_request(before), version):
            if len(parents) < 2:
                return None, (f"{path} naming {version.name} was committed directly to {branch} in {info['id'][:12]}, "
                              "not merged from a reviewed request")
            return _evidence(reg, version, stage, info, here, current_raw, path)
    return None, f"no merge into {branch} introduced {path} for {version.name}"


def _evidence(reg: Registry, version: Version, stage: str, merge: dict, merged_raw: bytes, current_raw: bytes,
              path: str) -> tuple[dict | None, str]:
    repo = reg.repo
    if merged_raw != current_raw:
        return None, f"{path} was changed on the protected branch after the merge {merge['id'][:12]}"
    request_commit = _request_commit(repo, merge["parents"][1], merge["parents"][0], path)
    if request_commit is None:
        return None, f"merge {merge['id'][:12]} does not contain a request commit for {path}"
    requested = repo.blob_at(request_commit, path)
    if requested != merged_raw:
        return None, f"{path} was edited after the request {request_commit[:12]} (the merged file is not the one requested)"
    req = _parse_request(requested) or {}
    requester = _email(str(req.get("requester", "")))
    approvers = []
    for _, who in TRAILER_RE.findall(merge["message"]):
        approvers.append(who)
    approvers.append(merger(merge))
    distinct: dict[str, str] = {}
    for who in approvers:
        mail = _email(who)
        if mail and mail != requester and mail not in distinct:
            distinct[mail] = who
    pr = PR_RE.search(merge["message"].splitlines()[0] if merge["message"] else "")
    return {
        "merge_commit": merge["id"], "request_commit": request_commit, "approvers": sorted(distinct.values()),
        "requester": req.get("requester"), "pr": int(pr.group(1)) if pr else None, "request_file": path,
        "request_sha256": hashlib.sha256(requested).hexdigest(),
    }, ""


def _request_commit(repo, branch_tip: str, base: str, path: str) -> str | None:
    """The newest commit on the request side (not on `base`) that wrote `path`."""
    for c in repo.commits_between(base, branch_tip, limit=500):
        info = repo.commit_info(c["id"])
        before = repo.blob_at(info["parents"][0], path) if info["parents"] else None
        if repo.blob_at(c["id"], path) != before:
            return c["id"]
    return None


def check(reg: Registry, version: Version, stage: str, needed: int) -> tuple[Criterion, dict | None]:
    evidence, why = find(reg, version, stage)
    if evidence is None:
        return Criterion("approvals", False, f"needs {needed} approval(s): {why}"), None
    have = len(evidence["approvers"])
    if have < needed:
        return Criterion("approvals", False,
                         f"needs {needed} distinct approver(s) other than the requester; merge {evidence['merge_commit'][:12]} "
                         f"has {have} ({', '.join(evidence['approvers']) or 'none'})"), None
    return Criterion("approvals", True, f"{have} approver(s) in merge {evidence['merge_commit'][:12]}: "
                                        f"{', '.join(evidence['approvers'])}"), evidence
