"""Talking to a remote: its registry refs (ls-remote, read as bytes), pushing a branch."""

from __future__ import annotations

import os

from gitmv.errors import MvError
from gitmv.git.repo import Repo
from gitmv.names import ATTESTATIONS_REF, NOTES_FETCH_REFSPEC, NOTES_REF, TAG_ROOT
from gitmv.rules import refs as refrules


def ls_remote(repo: Repo, remote: str, patterns: tuple[str, ...] = (TAG_ROOT + "*", NOTES_REF, ATTESTATIONS_REF),
              interactive: bool = True) -> dict[str, str]:
    """The remote's registry refs in the grammar (those matching `patterns`), read as bytes. A
    name outside it (which a server without our hook may hold) is skipped: never fetched, never
    misread as another ref. `interactive=False` never prompts for credentials: a look that may
    fail (a decision's comparison) must not wait on a terminal."""
    env = None if interactive else {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    proc = repo.git("ls-remote", remote, *patterns, check=False, env=env).check(
        f"cannot reach remote '{remote}'", "check 'git remote -v' and your access to the remote")
    try:
        listed = refrules.parse_ls_remote(proc.stdout)
    except ValueError as exc:
        raise MvError(f"cannot read the ref list of remote '{remote}': {exc}",
                      "check that 'git ls-remote' works against it") from None
    out = {}
    for ref, oid in listed:
        parsed = refrules.parse(ref)
        if parsed is not None:
            out[parsed.name] = oid
    return out


def remote_branch(repo: Repo, remote: str, branch: str) -> str | None:
    """The commit the remote advertises for refs/heads/<branch> (None when it has no such branch).
    Listed apart from `ls_remote`, whose answer is the registry refs only."""
    ref = f"refs/heads/{branch}"
    proc = repo.git("ls-remote", remote, ref, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise MvError(f"cannot reach remote '{remote}': {err[-1] if err else proc.returncode}",
                      "check 'git remote -v' and your access to the remote")
    for row in proc.stdout.decode(errors="replace").splitlines():
        oid, _, name = row.partition("\t")
        if name == ref:
            return oid
    return None


def push_branch(repo: Repo, remote: str, branch: str) -> None:
    proc = repo.git("push", "--porcelain", remote, f"refs/heads/{branch}:refs/heads/{branch}", check=False)
    if proc.returncode != 0:
        text = (proc.stdout + proc.stderr).decode(errors="replace").strip().splitlines()
        # the porcelain "!<TAB>src:dst<TAB>[rejected] (why)" rows and the hooks' lines say why
        why = [" ".join(ln.split("\t")[2:]).strip() or ln.strip() for ln in text if ln.startswith("!")]
        why += [ln.strip() for ln in text if "mv-promote: refused" in ln]
        why = why or text[-1:]
        if any("non-fast-forward" in w or "fetch first" in w for w in why):
            fix = (f"{remote} already has a different {branch}: look at it (git fetch {remote} {branch}) and "
                   "delete it there if it is stale, then try again")
        else:
            fix = f"push it yourself: git push {remote} {branch}"
        raise MvError(f"could not push branch {branch}: {' / '.join(why) if why else proc.returncode}", fix)


def ensure_notes_refspec(repo: Repo, remote: str) -> bool:
    """Make a plain `git fetch` bring the remote's evidence notes too; True when it was added."""
    spec = NOTES_FETCH_REFSPEC.format(remote=remote)
    if spec in repo.fetch_refspecs().get(remote, []):
        return False
    repo.git("config", "--add", f"remote.{remote}.fetch", spec)
    return True
