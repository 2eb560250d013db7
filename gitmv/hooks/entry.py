"""Hook entry points: `python -m gitmv.hooks pre-receive` (server) and `pre-push` (client).

Starts fast: stdin is read as bytes and, when no ref in the registry namespace (`refs/tags/mv`,
`refs/tags/mv/…`, `refs/notes/mv-promote*`; `gitmv.rules.refs.in_namespace`, the same test the
checker uses) and no protected branch is pushed, the hook exits 0 before pygit2 or anything
heavy is imported. Fails closed: unreadable input, a crash, a timeout or an unreadable policy
refuses the push with a message.
"""

from __future__ import annotations

import os
import signal
import sys

from gitmv.rules import refs as refrules

DEFAULT_TIMEOUT = 120
ZERO = "0" * 40


class HookTimeout(Exception):
    pass


def _registry_ref(ref: bytes | str) -> bool:
    return refrules.in_namespace(ref)


# ---------------------------------------------------------------- is there anything for us (pre-receive)

def _ref_text(ref) -> str:
    return ref.decode("utf-8", "surrogateescape") if isinstance(ref, bytes) else ref


def _git_out(git_dir: str, *args: str) -> tuple[int, bytes]:
    from gitmv import proc  # no pygit2: this runs before the fast path decides

    done = proc.run(["git", "--git-dir", git_dir, *args], env=proc.git_free_env(keep_quarantine=True))
    return done.returncode, done.stdout


def protected_refs_fast(git_dir: str) -> set[str] | None:
    """The protected branch refs as `enforce.protected_branch_state` computes them (the branch
    named by `mvpromote.protectedBranch`, else HEAD, plus the branch its policy names), without
    pygit2; None when that cannot be told for sure (then every branch update is examined)."""
    try:
        code, out = _git_out(git_dir, "config", "--get", "mvpromote.protectedBranch")
        if code == 0 and out.strip():
            server_ref = "refs/heads/" + out.decode().strip()
        elif code == 1:  # not set
            code, out = _git_out(git_dir, "symbolic-ref", "-q", "HEAD")
            server_ref = out.decode().strip() if code == 0 and out.strip() else "refs/heads/main"
        else:
            return None
        code, raw = _git_out(git_dir, "cat-file", "blob", f"{server_ref}:.mv-promote.toml")
        if code != 0:
            code, out = _git_out(git_dir, "rev-parse", "-q", "--verify", f"{server_ref}:.mv-promote.toml")
            return {server_ref} if code == 1 and not out.strip() else None  # no policy yet: bootstrap
        from gitmv.policy import parse_policy  # the same validation as the real check (no pygit2)

        return {server_ref, f"refs/heads/{parse_policy(raw).protected_branch}"}
    except Exception:  # (in doubt, examine)
        return None


def server_has_work(updates, git_dir: str) -> bool:
    """Does this push touch the registry or a protected branch? When not, pre-receive exits 0
    before anything heavy is imported. Errs towards examining: a wrong "no" would skip a check."""
    refs = [_ref_text(u[2]) for u in updates]
    if any(_registry_ref(r) for r in refs):
        return True
    heads = [r for r in refs if r.startswith("refs/heads/")]
    if not heads:
        return False
    protected = protected_refs_fast(git_dir)
    return protected is None or any(r in protected for r in heads)


def _say(text: str) -> None:
    from gitmv import output  # json and friends only when there is something to say

    output.error(text)


# Bytes in, never decoded before judged: see gitmv.rules.refs for why (U+2028, U+0085, non-UTF-8).
parse_pre_receive = refrules.parse_pre_receive
parse_pre_push = refrules.parse_pre_push


def _on_alarm(signum, frame):
    raise HookTimeout()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("pre-receive", "pre-push"):
        _say("usage: python -m gitmv.hooks pre-receive | pre-push <remote> <url>")
        return 2
    kind = argv[0]
    data = sys.stdin.buffer.read()
    try:
        if kind == "pre-receive":
            updates = parse_pre_receive(data)
            wanted = server_has_work(updates, os.environ.get("GIT_DIR") or ".") and bool(updates)
        else:
            pushes = parse_pre_push(data)
            wanted = any(_registry_ref(p[2]) for p in pushes)
    except refrules.HookInputError as exc:
        _say(f"mv-promote: refused: {exc} (fail closed) — push with a stock git client; "
             "if this persists, report the input to the server admin")
        return 1
    if not wanted:
        return 0
    # The checker gets each name as lossless text (`to_text`: non-UTF-8 bytes become surrogates),
    # so str code works on it, and the ref rules re-derive the exact bytes (`to_bytes`) to judge.
    if kind == "pre-receive":
        text_updates = [(old, new, refrules.to_text(ref)) for old, new, ref in updates]
    else:
        text_pushes = [(refrules.to_text(lr), lo, refrules.to_text(rr), ro) for lr, lo, rr, ro in pushes]
    try:
        timeout = int(os.environ.get("MV_PROMOTE_HOOK_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        timeout = DEFAULT_TIMEOUT
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(max(timeout, 1))
    try:
        from gitmv.hooks import enforce

        if kind == "pre-receive":
            git_dir = os.environ.get("GIT_DIR") or "."
            refusals = enforce.pre_receive(git_dir, text_updates)
        else:
            remote = argv[1] if len(argv) > 1 else "origin"
            refusals = enforce.pre_push(remote, text_pushes)
    except HookTimeout:
        _say(f"mv-promote: refused: the registry check did not finish within {timeout} s (fail closed) — "
             "ask the admin to raise MV_PROMOTE_HOOK_TIMEOUT or investigate")
        return 1
    except BaseException as exc:  # fail closed, and say why (even on SystemExit from a broken import)
        cause = getattr(exc, "cause", None) or repr(exc)
        fix = getattr(exc, "fix", None)
        _say(f"mv-promote: refused: the registry check could not run: {cause}" + (f" — {fix}" if fix else ""))
        return 1
    finally:
        signal.alarm(0)
    if refusals:
        side = "server" if kind == "pre-receive" else "pre-push (client)"
        for line in (ln for text in refusals for ln in text.splitlines()):  # one refusal a line
            _say(f"mv-promote: {line}")
        _say(f"mv-promote: push refused by the {side} registry check; nothing was updated")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
