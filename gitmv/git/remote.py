"""Talking to a remote: its registry refs (ls-remote, read as bytes), pushing a branch."""

from __future__ import annotations

from gitmv.errors import MvError
from gitmv.git.repo import Repo
from gitmv.names import NOTES_FETCH_REFSPEC, NOTES_REF, TAG_ROOT
from gitmv.rules import refs as refrules


def ls_remote(repo: Repo, remote: str) -> dict[str, str]:
    """The remote's registry refs in the grammar, read as bytes. A name outside it (which a server
    without our hook may hold) is skipped: never fetched, never misread as another ref."""
    proc = repo.git("ls-remote", remote, TAG_ROOT + "*", NOTES_REF, check=False).check(
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


def push_branch(repo: Repo, remote: str, branch: str) -> None:
    repo.git("push", "--porcelain", remote, f"refs/heads/{branch}:refs/heads/{branch}", check=False).check(
        f"could not push branch {branch}", f"push it yourself: git push {remote} {branch}")


def ensure_notes_refspec(repo: Repo, remote: str) -> bool:
    """Make a plain `git fetch` bring the remote's evidence notes too; True when it was added."""
    spec = NOTES_FETCH_REFSPEC.format(remote=remote)
    if spec in repo.config_all(f"remote.{remote}.fetch"):
        return False
    repo.git("config", "--add", f"remote.{remote}.fetch", spec)
    return True
