"""Adversarial review of the server hook, second round: an insider with an allowed signing key
(alice) and push rights pushes with `git push --no-verify` to a served bare repository with the
pre-receive hook installed, trying orders and histories the rules did not foresee. Each test
asserts the correct behaviour (written as findings, they stay as the rules' regression tests).
The push protocol itself (old values the pusher claims) is tests/hooks/test_push_protocol.py.
"""

from __future__ import annotations

import subprocess
import tomllib

import pytest

from conftest import (ModelRepo, accepted, approval_repo, forge_stage_tag, git, note_text, old_format_eval,
                      promote_and_push, push, refused, request_reviewed, run_mv)
from gitmv import records

NOTES = "refs/notes/mv-promote"
EVIL_EVAL = '''import json, sys
json.dump({"metrics": {"auc": 0.99, "latency_ms": 1.0}, "slices": {"region=eu": {"auc": 0.99},
           "region=us": {"auc": 0.99}}}, open(sys.argv[2], "w"))
'''


def fresh_verify(server, tmp_path, name: str = "fresh"):
    """`verify --json` on a fresh clone of the server, with its notes."""
    clone = tmp_path / name
    subprocess.run(["git", "clone", "-q", server.url, str(clone)], check=True, capture_output=True)
    git("fetch", "-q", "origin", f"+{NOTES}:{NOTES}", cwd=clone, check=False)
    return run_mv("verify", "--json", cwd=clone, code=None)




# ---------------------------------------------------------------- R9 judged only when the tag is already there

def test_an_eval_from_a_private_eval_script_pushed_before_its_version_tag_is_refused_with_the_tag(published, server):
    """R9 eval-provenance refuses an eval whose command digest is not main's eval script
    (tests/hooks/test_provenance_push.py), judged with the version it is on. alice pushes the
    note first, while the server lacks v2's tag object (a notes push carries only the notes
    tree), so nothing tells R9 which code and eval script to hold it to. The server judges those
    evals when the tag arrives: a v2 of real AUC 0.70 (floor 0.80) evaluated at 0.99 by her own
    eval.py is refused, and so can never be promoted."""
    alice = published
    (alice.path / "eval.py").write_text(EVIL_EVAL)
    alice.commit("a friendlier eval")
    v2 = alice.version(0.70, 0.60)  # eval.py at this commit reports 0.99 whatever the model
    accepted(push(alice, NOTES))
    before = server.refs()
    refused(push(alice, f"refs/tags/mv/churn/{v2}"), "R9 eval-provenance")
    assert server.refs() == before


def test_an_old_format_eval_pushed_before_its_version_tag_is_refused_with_the_tag(published, server):
    """The same order with an eval that has no code_commit at all (docs/security.md: "A new
    old-format record cannot be pushed to a server with the hook")."""
    alice = published
    v2 = alice.version(0.90, 0.85, evaluate=False)
    old_format_eval(alice, v2)
    accepted(push(alice, NOTES))  # v2's tag object is not on the server yet
    before = server.refs()
    refused(push(alice, f"refs/tags/mv/churn/{v2}"), "R9 eval-provenance")
    assert server.refs() == before


# ---------------------------------------------------------------- approvals judged at one time by the hook, another by verify

def test_an_approval_by_a_key_not_yet_valid_at_the_stage_tags_time_is_refused(server, tmp_path, keys):
    """bob's key is valid from 2026-11-20 (valid-after: he joined then). alice's production tag
    is dated 2026-11-01 (the test clock; a signer chooses the date, the server bounds it only from
    above). `verify` judges approval signatures at the stage tag's time, so bob's signed merge
    approves nothing there; the hook judged them only at its own clock (after 2026-11-20), counted
    bob and accepted a tag every fresh clone's verify then failed forever. It now judges them at
    both times."""
    bob_line = keys.allowed_line("bob").replace('namespaces="git"', 'namespaces="git",valid-after="20261120"')
    alice, bob = approval_repo(server, tmp_path, keys, keys.allowed_line("alice") + bob_line, "bob joins on 2026-11-20")
    v1 = alice.version(0.85, 0.80)
    request_reviewed(alice, bob, v1)
    before = server.refs()
    # the client counts bob (his key is valid now); the server must not
    promote_and_push(alice, v1, 1, judged=lambda proc: refused(proc, "R1 approvals"))
    assert server.refs() == before


# ---------------------------------------------------------------- "newest eval" by first-parent position, re-ordered

@pytest.fixture
def reevaluated(server, tmp_path, keys):
    """Only bob (CI) may sign evals. bob evaluated v2 at auc 0.90, then re-evaluated it at 0.70,
    below the 0.80 floor: the re-evaluation is the newest, by its place in the notes history
    (first-parent order, never `at`), so v2 cannot be promoted. alice (who may not write evals)
    then makes X, a new root notes commit holding v2's note with only the 0.70 eval, a copy of
    bob's record. (alice, the server's notes tip, X)."""
    from conftest import POLICY, eval_from

    policy = POLICY.replace("approvals = 0", 'approvals = 0\neval_signers = ["bob@example.com"]')
    alice = ModelRepo(tmp_path / "alice", keys, policy=policy, signers=("alice", "bob"))
    alice.git("remote", "add", "origin", server.url)
    accepted(push(alice, "main"))

    def as_bob(fn):
        alice.git("config", "user.signingkey", str(keys.private("bob")))
        try:
            return fn()
        finally:
            alice.git("config", "user.signingkey", str(keys.private("alice")))

    v1 = alice.version(0.85, 0.80, evaluate=False)
    as_bob(lambda: alice.mv("eval", "churn", v1))
    alice.mv("promote", "churn", v1, "--stage", "production")
    accepted(push(alice, "refs/tags/mv/*:refs/tags/mv/*", NOTES))
    v2 = alice.version(0.90, 0.85, evaluate=False)
    as_bob(lambda: eval_from(alice, v2, 0.90, 0.85))
    accepted(push(alice, f"refs/tags/mv/churn/{v2}", NOTES))
    as_bob(lambda: eval_from(alice, v2, 0.70, 0.60))  # the re-evaluation: below the floor
    accepted(push(alice, NOTES))
    assert alice.mv("check", "churn", v2, "--stage", "production", "--json", code=None).json["passed"] is False
    tip = alice.ref(NOTES)
    bad = [r for r in tomllib.loads(note_text(alice, v2))["record"] if r["metrics"]["auc"] == 0.70]
    target = alice.ref(f"refs/tags/mv/churn/{v2}")
    blob = _git_out(alice, "hash-object", "-w", "--stdin", input=records.render_note(bad))
    sub = _git_out(alice, "mktree", input=f"100644 blob {blob}\t{target[2:]}\n")
    root = _git_out(alice, "mktree", input=f"040000 tree {sub}\t{target[:2]}\n")
    return alice, tip, _git_out(alice, "commit-tree", root, "-m", "notes")


def _git_out(repo: ModelRepo, *args: str, input: str | None = None) -> str:
    return subprocess.run(["git", *args], cwd=repo.path, input=input, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.parametrize("first_parent", ["copy", "server"])
def test_a_notes_merge_cannot_bring_a_copy_of_a_superseded_eval(reevaluated, server, first_parent):
    """'copy': alice pushes a fast-forward notes merge M whose first parent is X and whose second
    is the server's tip (M's tree is the tip's). Every edge keeps every record (append-only
    holds), but on M's first-parent chain bob's 0.90 eval would be introduced last, and the gate
    would take it. 'server': the same copy merged the harmless way (the server's tip first), to
    be on the server for a later push to build on. Both refused."""
    alice, tip, x = reevaluated
    parents = ["-p", x, "-p", tip] if first_parent == "copy" else ["-p", tip, "-p", x]
    m = _git_out(alice, "commit-tree", f"{tip}^{{tree}}", *parents, "-m", "Merge notes")
    alice.git("update-ref", NOTES, m, tip)
    before = server.refs()
    refused(push(alice, NOTES), "R3 notes-append-only")
    assert server.refs() == before


def test_sync_merges_that_reorder_concurrent_evals_are_accepted(published, server, tmp_path, keys):
    """What the rule above must not refuse. alice publishes v2's eval e1; bob fetches; alice adds
    e2 and pushes; bob, without e2, adds e3 and syncs (his merge puts e2 after e3 on the server's
    first-parent chain); alice, without e3, adds e4 and syncs: her merge puts e3 after e2 again.
    e2 and e3 were written in two clones without each other: their order is whatever the last
    merge gives, and neither sync may be refused for it."""
    from conftest import Clone, eval_from

    alice = published
    v2 = alice.version(0.90, 0.85, evaluate=False)
    eval_from(alice, v2, 0.90, 0.85)  # e1
    accepted(push(alice, f"refs/tags/mv/churn/{v2}", NOTES))
    bob = Clone(tmp_path / "bob", server.url, keys)
    bob.git("fetch", "-q", "origin", f"+{NOTES}:{NOTES}")
    bob.git("config", "user.signingkey", str(keys.private("alice")))  # the one allowed signer here
    eval_from(alice, v2, 0.91, 0.86)  # e2
    accepted(push(alice, NOTES))
    eval_from(bob, v2, 0.92, 0.87)  # e3, without e2
    bob.mv("sync")
    eval_from(alice, v2, 0.93, 0.88)  # e4, without e3
    alice.mv("sync")
    assert server.refs()[NOTES] == alice.ref(NOTES)
    assert len(tomllib.loads(note_text(alice, v2))["record"]) == 4


# ---------------------------------------------------------------- attempts refused before this review too



def test_an_old_format_eval_pushed_with_its_version_tag_and_stage_tag_is_refused(published, server):
    alice = published
    v2 = alice.version(0.90, 0.85, evaluate=False)
    old_format_eval(alice, v2)
    alice.mv("promote", "churn", v2, "--stage", "production")
    before = server.refs()
    refused(push(alice, f"refs/tags/mv/churn/{v2}", NOTES, "refs/tags/mv/churn/production/2"), "R9 eval-provenance")
    assert server.refs() == before


def test_a_deprecation_in_the_same_push_as_the_promotion_is_seen(live, server):
    live.mv("promote", "churn", "v2", "--stage", "production")
    live.mv("deprecate", "churn", "v2", "-m", "leaks labels")
    before = server.refs()
    refused(push(live, "refs/tags/mv/churn/production/2", NOTES), "R1 deprecated")
    assert server.refs() == before


def test_a_rollback_to_a_version_that_was_only_in_staging_is_refused(published, server):
    """v2 in staging (unprotected, no gate), then 'rolled back' into production, where it never was."""
    alice = published
    v2 = alice.version(0.86, 0.81)
    alice.mv("promote", "churn", v2, "--stage", "staging")
    accepted(push(alice, f"refs/tags/mv/churn/{v2}", NOTES, "refs/tags/mv/churn/staging/2"))
    ref = forge_stage_tag(alice, v2, "production", 2, kind="rollback")
    before = server.refs()
    refused(push(alice, ref), "R1")
    assert server.refs() == before


def test_a_stage_tag_without_a_tagger_line_is_refused(live, server):
    """A tag object with no tagger (time 0 to the reader) cannot pose as the stage's next entry."""
    from gitmv.git.repo import Repo
    from gitmv.records import PromotionRecord

    repo = live
    repo.mv("promote", "churn", "v2", "--stage", "production")
    raw = subprocess.run(["git", "cat-file", "tag", "refs/tags/mv/churn/production/2"], cwd=repo.path,
                         capture_output=True, check=True).stdout
    head, _, body = raw.partition(b"\n\n")
    record = PromotionRecord.from_message(body.decode().split("-----BEGIN")[0])
    import dataclasses
    msg = dataclasses.replace(record, at="1970-01-01T00:00:00Z").to_message().encode()
    lines = [ln for ln in head.split(b"\n") if not ln.startswith(b"tagger ")]
    obj = subprocess.run(["git", "hash-object", "-t", "tag", "-w", "--literally", "--stdin"], cwd=repo.path,
                         input=b"\n".join(lines) + b"\n\n" + msg, capture_output=True, check=True).stdout.decode().strip()
    repo.git("update-ref", "refs/tags/mv/churn/production/2", obj)
    assert Repo.discover(repo.path).tag(obj).tagger_time == 0
    before = server.refs()
    refused(push(repo, "refs/tags/mv/churn/production/2"), "R1")
    assert server.refs() == before


def test_a_notes_merge_of_an_unrelated_history_that_drops_a_record_on_its_side_edge_is_refused(live, server):
    """M = merge(tip, X) where X is a new root without v2's eval and M's tree is X's: the first
    parent edge tip -> M loses the record."""
    repo = live
    tip = repo.ref(NOTES)
    run = lambda *a: subprocess.run(["git", *a], cwd=repo.path, capture_output=True, text=True,
                                    check=True).stdout.strip()
    empty = run("mktree")
    x = subprocess.run(["git", "commit-tree", empty, "-m", "x"], cwd=repo.path, capture_output=True, text=True,
                       check=True, stdin=subprocess.DEVNULL).stdout.strip()
    m = run("commit-tree", empty, "-p", tip, "-p", x, "-m", "merge")
    repo.git("update-ref", NOTES, m, tip)
    before = server.refs()
    refused(push(repo, NOTES), "R3 notes-append-only")
    assert server.refs() == before
