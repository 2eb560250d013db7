"""`init`: the policy template, the notes fetch refspec, the signer and the client hook."""

from __future__ import annotations

import os
from pathlib import Path

from gitmv.errors import MvError, PolicyError, UsageError
from gitmv.git.repo import Repo
from gitmv.git.remote import ensure_notes_refspec
from gitmv.names import check_model_name
from gitmv.policy import POLICY_PATH, parse_policy, template



def init(model: str | None = None, artifacts: tuple = (), add_signer: bool = False, install_hook: bool = True,
         path: str | os.PathLike = ".") -> dict:
    repo = Repo.discover(path)
    if repo.workdir is None:
        raise UsageError("init needs a work tree", "run it in a clone, not in a bare repository")
    if model:
        check_model_name(model)
    from gitmv.hooks import install as hooks_install

    # before anything is written: a hook that could not start is refused, not installed
    warnings = hooks_install.check_interpreter() if install_hook else []
    done = []
    policy_file = repo.workdir / POLICY_PATH
    if policy_file.exists():
        done.append(f"kept the existing {POLICY_PATH}")
    else:
        policy_file.write_text(template(model, tuple(artifacts)))
        done.append(f"wrote {POLICY_PATH}")
    for remote in repo.remotes():
        if ensure_notes_refspec(repo, remote):
            done.append(f"added notes fetch refspec to remote {remote}")
    if add_signer:
        done.append(add_allowed_signer(repo, policy_file))
    if install_hook:
        done.extend(hooks_install.install_client(repo))
    # only paths that exist: `git add` of a missing path fails and adds nothing
    paths = " ".join(p for p in (POLICY_PATH, ".mv-promote") if (repo.workdir / p).exists())
    return {"done": done, "next": [f"git add {paths} && git commit -m 'Add mv-promote policy'"], "warnings": warnings}


def install_hooks(server: str | None = None, path: str | os.PathLike = ".") -> dict:
    """`hooks install`: the client pre-push hook of the repository at `path`, or with `server` the
    pre-receive hook of that bare repository. `done` is empty when it was installed already."""
    from gitmv.hooks import install as hooks_install

    warnings = hooks_install.check_interpreter()  # before anything is written: a hook that could not start is refused
    done = hooks_install.install_server(server) if server else hooks_install.install_client(Repo.discover(path))
    return {"done": done, "warnings": warnings}


def hooks_status(server: str | None = None, path: str | os.PathLike = ".") -> dict:
    """`hooks`: which hook shims are installed (client, or `server`'s)."""
    from gitmv.hooks import install as hooks_install

    found = hooks_install.status_server(server) if server else hooks_install.status_client(Repo.discover(path))
    return {"hooks": found, "warnings": []}


def uninstall_hooks(server: str | None = None, path: str | os.PathLike = ".") -> dict:
    """`hooks uninstall`: remove the shim and restore the hook it replaced (client, or `server`'s)."""
    from gitmv.hooks import install as hooks_install

    done = hooks_install.uninstall_server(server) if server else hooks_install.uninstall_client(Repo.discover(path))
    return {"done": done, "warnings": []}


def add_allowed_signer(repo: Repo, policy_file: Path) -> str:
    fmt = repo.config("gpg.format")
    key = repo.config("user.signingkey")
    email = repo.config("user.email")
    if fmt != "ssh" or not key:
        raise MvError("--add-signer needs ssh signing (gpg.format=ssh and user.signingkey)",
                      "git config gpg.format ssh; git config user.signingkey ~/.ssh/id_ed25519.pub")
    if key.startswith("key::"):
        public = key[5:]
    else:
        key_path = Path(os.path.expanduser(key))
        pub_path = key_path if key_path.suffix == ".pub" else key_path.with_name(key_path.name + ".pub")
        if not pub_path.is_file():
            raise MvError(f"no public key next to {key_path}", "set user.signingkey to the .pub file")
        public = pub_path.read_text().strip()
    public = " ".join(public.split()[:2])
    try:
        policy = parse_policy(policy_file.read_bytes())
        signers_rel = policy.allowed_signers
    except PolicyError:
        signers_rel = ".mv-promote/allowed_signers"
    assert repo.workdir is not None  # init refused a bare repository
    signers = repo.workdir / signers_rel
    signers.parent.mkdir(parents=True, exist_ok=True)
    existing = signers.read_text() if signers.exists() else ""
    if public in existing:
        return f"{signers_rel} already allows your key"
    from gitmv.git.signing import allowed_signers_line

    with open(signers, "a") as fh:
        fh.write(allowed_signers_line(email or "*", public))
    return f"added your signing key to {signers_rel}"
