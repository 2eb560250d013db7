"""Adversarial review: an insider with an allowed signing key (alice) and push rights, pushing with
`git push --no-verify` to a served bare repository with the pre-receive hook installed.

Each test asserts the CORRECT behaviour (the push is refused and the server's refs are
unchanged, or `verify` passes afterwards); a failing test is a finding.
"""

from __future__ import annotations

import hashlib
import subprocess
import tomllib

import pytest

from conftest import (POLICY, ModelRepo, Reviewer, accepted, approval_team, approve, git, note_text, push, put_note,
                      refused, run_mv, weaken)
from gitmv import records

# ---------------------------------------------------------------- evidence notes


def test_a_note_record_whose_signature_does_not_verify_is_refused(published_v2, server, tmp_path):
    """alice writes an eval in bob's name carrying her own signature (over another payload). The
    record is canonical and intact (the id excludes the signature), so the hook's notes check
    passes it; but every clone's `verify` then reports 'signature: bad signature' forever."""
    published_v2.mv("eval", "churn", "v2")
    note = tomllib.loads(note_text(published_v2, "v2"))["record"]
    body = {k: v for k, v in note[0].items() if k not in ("id", "kind", "at", "by", "signature")}
    rec = records.make_note_record("eval", body, at=note[0]["at"], by="bob@example.com")
    rec["signature"] = note[0]["signature"]
    put_note(published_v2, "v2", records.render_note([note[0], rec]))  # alice's own eval stays
    before = server.refs()
    proc = push(published_v2, "refs/notes/mv-promote")
    if proc.returncode == 0:  # accepted: show what every clone's verify now says
        clone = tmp_path / "fresh"
        subprocess.run(["git", "clone", "-q", server.url, str(clone)], check=True, capture_output=True)
        git("fetch", "-q", "origin", "+refs/notes/mv-promote:refs/notes/mv-promote", cwd=clone)
        out = run_mv("verify", "--json", cwd=clone, code=None)
        pytest.fail(f"server accepted a record its own verify rejects (verify exit {out.code}): {out.out[-400:]}")
    refused(proc, "R3 notes-valid")
    assert server.refs() == before


# ---------------------------------------------------------------- approvals and revoked keys

@pytest.fixture
def revoked_team(server, tmp_path, keys):
    """alice, bob and carol may sign; carol's key was revoked with valid-before 2026-11-15 (commits
    in these tests are dated 2026-11-01, the server's clock is the real one, after that date).
    v1 is live in production (approved by bob), v2 (better) is registered and evaluated."""
    carol = keys.allowed_line("carol").replace('namespaces="git"', 'namespaces="git",valid-before="20261115"')
    alice, _, v2 = approval_team(server, tmp_path, keys, keys.allowed_line("alice") + keys.allowed_line("bob") + carol,
                                 "Allow bob; carol left on 2026-11-15")
    return alice, v2


def test_a_backdated_approve_commit_by_a_revoked_key_is_not_an_approval(revoked_team, server, tmp_path):
    """security.md: revoke a stolen key by setting valid-before. Stage tags and records are judged
    at the server's time, but approve commits (and merges, request commits) are judged at the
    commit's own, signer-chosen time: carol's revoked key still approves, with a backdated commit."""
    alice, v2 = revoked_team
    alice.mv("request", "churn", v2, "--stage", "production", "--push")
    carol = Reviewer(tmp_path / "carol", server.url, alice.keys, "carol")
    # `approve` itself refuses (her key is past valid-before now), so carol writes the approve
    # commit by hand, dated before the revocation, as an attacker holding her key would
    refusal = carol.mv("approve", "churn", v2, "--stage", "production", code=1)
    assert "would not count" in refusal.err
    branch = f"mv-promote/churn/{v2}-production"
    carol.git("fetch", "-q", "origin")
    carol.git("checkout", "-q", "-B", branch, f"origin/{branch}")
    digest = hashlib.sha256((carol.path / "promotions" / "churn" / "production.toml").read_bytes()).hexdigest()
    carol.git("commit", "-S", "-q", "--allow-empty", "-m",
              f"Approve\n\nMv-Promote-Approve: churn/{v2}-production sha256:{digest}")
    carol.git("push", "-q", "origin", branch)
    alice.git("fetch", "-q", "origin")
    alice.git("checkout", "-q", "main")
    alice.git("merge", "--no-gpg-sign", "--no-ff", "-q", "-m", "Merge request", f"origin/mv-promote/churn/{v2}-production")
    accepted(push(alice, "main"))  # policy_approvals = 0: R7 only asks for a merge
    alice.mv("sync")
    promoted = alice.mv("promote", "churn", v2, "--stage", "production", "--json", code=None)
    if promoted.code == 0:  # the local rule counts carol too: show who approved
        assert promoted.json["record"]["approval"]["approvers"] != ["carol@example.com"], promoted.json["record"]["approval"]
    else:
        from conftest import forge_stage_tag
        forge_stage_tag(alice, v2, "production", 2)
    before = server.refs()
    refused(push(alice, "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"), "R1 approvals")
    assert server.refs() == before


# ---------------------------------------------------------------- R7: what an approve commit binds

@pytest.fixture
def guarded(server, tmp_path, keys):
    """alice's clone, alice and bob allowed; policy_approvals = 1 (the default)."""
    repo = ModelRepo(tmp_path / "alice", keys, signers=("alice", "bob"))
    repo.git("remote", "add", "origin", server.url)
    accepted(push(repo, "main"))
    return repo


def test_a_request_digest_approved_for_staging_does_not_approve_the_production_file(guarded, server):
    """bob approves `promotions/churn/staging.toml` by its sha256; alice then moves the same bytes
    to `promotions/churn/production.toml`. The sha256 binding covers any promotions/*.toml with
    those bytes, whatever its path: a production request file lands on main that nobody approved."""
    repo = guarded
    text = 'model = "churn"\nstage = "staging"\nversion = "v1"\n'
    digest = hashlib.sha256(text.encode()).hexdigest()
    repo.git("checkout", "-q", "-b", "req")
    (repo.path / "promotions" / "churn").mkdir(parents=True)
    (repo.path / "promotions" / "churn" / "staging.toml").write_text(text)
    repo.git("add", "-A")
    repo.git("commit", "-S", "-q", "-m", "request staging")
    repo.git(*repo.as_("bob"), "commit", "-q", "--allow-empty", "-S", "-m", "approve",
             "-m", f"Mv-Promote-Approve: churn/v1-staging sha256:{digest}")
    repo.git("mv", "promotions/churn/staging.toml", "promotions/churn/production.toml")
    repo.git("commit", "-S", "-q", "-m", "retarget")
    repo.git("checkout", "-q", "main")
    repo.merge("req", by="alice", signed=False)
    before = server.refs()
    refused(push(repo, "main"), "R7 protected-branch-approvals")
    assert server.refs() == before


def test_a_stale_tree_approval_cannot_undo_a_later_approved_policy_change(guarded, server):
    """bob approves alice's branch lowering the AUC floor 0.80 -> 0.75. Before it is merged, main
    raises the floor to 0.90 (a change bob reviewed and merged). alice then merges
    her old branch, resolving the conflict to her side (0.75): the approve commit still names the
    side's tip tree, so it counts, though bob never saw the change 0.90 -> 0.75."""
    repo = guarded
    repo.git("checkout", "-q", "-b", "lower")
    weaken(repo, "0.75")
    repo.commit("lower the AUC bar to 0.75")
    repo.git("checkout", "-q", "main")
    approve(repo, "lower", by="bob")
    # meanwhile a reviewed change raises the bar on main
    path = repo.path / ".mv-promote.toml"
    repo.reviewed_change({".mv-promote.toml": path.read_text().replace("auc = 0.80", "auc = 0.90")},
                         "raise the AUC bar to 0.90", reviewer="bob")
    accepted(push(repo, "main"))
    merged = repo.git("merge", "--no-ff", "--no-gpg-sign", "-q", "-m", "Merge lower", "lower", check=False)
    del merged
    repo.git("checkout", "lower", "--", ".mv-promote.toml")
    repo.git("add", "-A")
    repo.git("-c", "core.editor=true", "commit", "-q", "--no-gpg-sign", "--no-edit")
    assert "auc = 0.75" in path.read_text()
    before = server.refs()
    refused(push(repo, "main"), "R7 protected-branch-approvals")
    assert server.refs() == before


def test_a_merge_taking_an_old_commit_as_first_parent_cannot_revert_an_approved_policy_change(guarded, server):
    """R7 diffs each first-parent commit against its FIRST parent only. alice checks out the
    commit before bob's approved raise of the AUC bar and records `git merge -s ours main` there:
    a fast-forward of main (old main is its second parent) whose first parent already holds the
    old policy, so no examined commit 'changes' a guarded path, and the raise is undone unreviewed."""
    repo = guarded
    weak = repo.git("rev-parse", "HEAD")
    path = repo.path / ".mv-promote.toml"
    repo.reviewed_change({".mv-promote.toml": path.read_text().replace("auc = 0.80", "auc = 0.90")},
                         "raise the AUC bar to 0.90", reviewer="bob")
    accepted(push(repo, "main"))
    repo.git("checkout", "-q", "-b", "undo", weak)
    repo.git("merge", "-q", "-s", "ours", "--no-gpg-sign", "-m", "Merge main", "main")
    assert "auc = 0.80" in path.read_text()
    before = server.refs()
    proc = push(repo, "undo:main")
    refused(proc, "R7 protected-branch")
    assert server.refs() == before


def test_a_merge_taking_an_old_commit_as_first_parent_cannot_restore_a_removed_signer(guarded, server, keys):
    """The same shape for allowed_signers: a key removed by an approved merge (mallory's) comes back."""
    repo = guarded
    signers = repo.path / ".mv-promote" / "allowed_signers"
    repo.reviewed_change({".mv-promote/allowed_signers": signers.read_text() + keys.allowed_line("mallory")},
                         "add mallory", reviewer="bob")
    with_mallory = repo.git("rev-parse", "HEAD")
    repo.reviewed_change({".mv-promote/allowed_signers": keys.allowed_line("alice") + keys.allowed_line("bob")},
                         "revoke mallory: key leaked", reviewer="bob")
    accepted(push(repo, "main"))
    repo.git("checkout", "-q", "-b", "undo", with_mallory)
    repo.git("merge", "-q", "-s", "ours", "--no-gpg-sign", "-m", "Merge main", "main")
    assert "mallory" in signers.read_text()
    before = server.refs()
    refused(push(repo, "undo:main"), "R7 protected-branch")
    assert server.refs() == before


# ---------------------------------------------------------------- rollback and superseded evals



def test_a_version_found_bad_after_it_was_live_is_blocked_from_rollback_by_deprecating_it(live, server, tmp_path):
    """By design a rollback is judged by the evidence the version was promoted with, not by later
    evals (docs/design.md: an emergency path must not depend on re-running evaluations). A version
    found bad later is withdrawn from the rollback path by deprecating it: the server then refuses."""
    repo = live
    repo.mv("promote", "churn", "v2", "--stage", "production")
    accepted(push(repo, "refs/tags/mv/churn/production/2", "refs/notes/mv-promote"))
    bad = tmp_path / "reeval.json"
    bad.write_text('{"metrics": {"auc": 0.50, "latency_ms": 5.0}, '
                   '"slices": {"region=eu": {"auc": 0.50}, "region=us": {"auc": 0.50}}}')
    repo.mv("eval", "churn", "v1", "--from-file", str(bad))
    repo.mv("deprecate", "churn", "v1", "-m", "auc 0.50 on the re-evaluation")
    accepted(push(repo, "refs/notes/mv-promote"))
    assert repo.mv("rollback", "churn", "--stage", "production", code=1).err
    from conftest import forge_stage_tag
    ref = forge_stage_tag(repo, "v1", "production", 3, kind="rollback")
    before = server.refs()
    refused(push(repo, ref), "R1 deprecated")
    assert server.refs() == before


# ---------------------------------------------------------------- version records: recomputable claims

def test_a_version_record_claiming_another_versions_artifact_digest_is_refused(server, tmp_path, keys):
    """Only bob may sign evals. alice registers v2 whose commit holds a bad model.bin but whose
    record claims the sha256 of v1's (good, live) model.bin, and copies bob's signed eval of v1
    onto v2's note: evals are matched by digest only (not by their model/version fields), and the
    hook never recomputes a version record's artifact digests from the tagged commit, so v2's real
    bytes reach production unevaluated. `verify` afterwards reports the digest mismatch."""
    policy = POLICY.replace("approvals = 0", 'approvals = 0\neval_signers = ["bob@example.com"]')
    repo = ModelRepo(tmp_path / "alice", keys, policy=policy, signers=("alice", "bob"))
    repo.git("remote", "add", "origin", server.url)
    accepted(push(repo, "main"))
    v1 = repo.version(0.85, 0.80, evaluate=False)
    repo.git("config", "user.signingkey", str(keys.private("bob")))
    repo.mv("eval", "churn", v1)
    repo.git("config", "user.signingkey", str(keys.private("alice")))
    repo.mv("promote", "churn", v1, "--stage", "production")
    accepted(push(repo, "refs/tags/mv/*:refs/tags/mv/*", "refs/notes/mv-promote"))
    good = repo.mv("show", "churn", v1, "--json").json["record"]["artifacts"]["model.bin"]["sha256"]
    v2 = repo.version(0.11, 0.10, evaluate=False)  # same length as v1's bytes: only the digest differs
    bad = repo.mv("show", "churn", v2, "--json").json["record"]["artifacts"]["model.bin"]["sha256"]
    from conftest import tag_message
    message = tag_message(repo, f"refs/tags/mv/churn/{v2}").replace(bad.encode(), good.encode())
    commit = repo.git("rev-parse", f"refs/tags/mv/churn/{v2}^{{commit}}")
    (tmp_path / "msg").write_bytes(message)
    repo.git("tag", "-d", f"mv/churn/{v2}")
    repo.git("tag", "-s", "--cleanup=verbatim", "-F", str(tmp_path / "msg"), f"mv/churn/{v2}", commit)
    bob_eval = [r for r in tomllib.loads(note_text(repo, v1))["record"] if r["kind"] == "eval"]
    put_note(repo, v2, records.render_note(bob_eval))
    # the copied eval names v1, so it is no evidence for v2 locally either; forge the stage tag
    assert repo.mv("check", "churn", v2, "--stage", "production", "--json", code=None).json["passed"] is False
    from conftest import forge_stage_tag
    forge_stage_tag(repo, v2, "production", 2, eval_record=bob_eval[0]["id"])
    before = server.refs()
    proc = push(repo, f"refs/tags/mv/churn/{v2}", "refs/tags/mv/churn/production/2", "refs/notes/mv-promote")
    refused(proc, "R1")
    assert server.refs() == before


# ---------------------------------------------------------------- attempts the server refuses correctly

def test_a_stage_tag_pointing_at_a_tag_of_the_version_tag_is_refused(live, server):
    from conftest import forge_stage_tag
    repo = live
    repo.git("-c", "advice.nestedTag=false", "tag", "-a", "-m", "wrap", "wrapper", "refs/tags/mv/churn/v2")
    wrapper = repo.git("rev-parse", "refs/tags/wrapper")
    ref = forge_stage_tag(repo, "v2", "production", 2, target=wrapper)
    before = server.refs()
    refused(push(repo, ref), "R1")  # [R1 valid-record]: the record names the version tag, not the wrapper
    assert server.refs() == before


def test_a_flat_copy_of_a_note_beside_its_fanout_copy_cannot_hide_a_deprecation(published_v2, server):
    """Notes read the flat path first: a flat copy without the deprecation next to the 2/38 copy."""
    repo = published_v2
    tag = repo.git("rev-parse", "refs/tags/mv/churn/v1")
    old_note = note_text(repo, "v1")
    repo.mv("deprecate", "churn", "v1", "-m", "leaks labels")
    accepted(push(repo, "refs/notes/mv-promote"))
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo.path, input=old_note,
                          capture_output=True, text=True, check=True).stdout.strip()
    listing = repo.git("ls-tree", "refs/notes/mv-promote") + f"\n100644 blob {blob}\t{tag}\n"
    tree = subprocess.run(["git", "mktree"], cwd=repo.path, input=listing, capture_output=True, text=True,
                          check=True).stdout.strip()
    commit = repo.git("commit-tree", tree, "-p", "refs/notes/mv-promote", "-m", "flat copy")
    repo.git("update-ref", "refs/notes/mv-promote", commit)
    before = server.refs()
    refused(push(repo, "refs/notes/mv-promote"), "R3 notes-append-only")
    assert server.refs() == before


def test_a_stage_tag_signed_by_a_revoked_key_is_refused(server, tmp_path, keys):
    repo = ModelRepo(tmp_path / "alice", keys)
    carol = keys.allowed_line("carol").replace('namespaces="git"', 'namespaces="git",valid-before="20261115"')
    (repo.path / ".mv-promote" / "allowed_signers").write_text(keys.allowed_line("alice") + carol)
    repo.commit("carol left on 2026-11-15")
    repo.git("remote", "add", "origin", server.url)
    accepted(push(repo, "main"))
    v1 = repo.version(0.85, 0.80)
    accepted(push(repo, "refs/tags/mv/*:refs/tags/mv/*", "refs/notes/mv-promote"))
    repo.git("config", "user.signingkey", str(keys.private("carol")))
    repo.mv("promote", "churn", v1, "--stage", "production", code=None)
    if not repo.ref("refs/tags/mv/churn/production/1"):
        from conftest import forge_stage_tag
        forge_stage_tag(repo, v1, "production", 1, key="carol")
    before = server.refs()
    refused(push(repo, "refs/tags/mv/churn/production/1"), "R1 signed-stage-tag")
    assert server.refs() == before


def test_a_tag_named_like_a_stage_directory_is_refused(published_v2, server):
    """`refs/tags/mv/churn/production` would block every production/<seq> by a D/F conflict."""
    published_v2.git("tag", "-a", "-m", "block", "mv/churn/staging", "HEAD")
    before = server.refs()
    refused(push(published_v2, "refs/tags/mv/churn/staging"), "R3 valid-ref-name")
    assert server.refs() == before


def test_a_version_ref_aliased_to_another_versions_tag_is_refused(published_v2, server):
    """v3 pushed as a second name of v2's signed tag object, in the same push as v2: the record
    names v2, not v3, and the tag object names itself mv/churn/v2 (refused first, as a tag that
    does not name itself as its ref). (A clone's listings once showed such an alias as valid when
    v2 had been read first: tests/ops/test_reads_refuse.py.)"""
    repo = published_v2
    repo.git("update-ref", "refs/tags/mv/churn/v3", repo.git("rev-parse", "refs/tags/mv/churn/v2"))
    before = server.refs()
    refused(push(repo, "refs/tags/mv/churn/v2", "refs/tags/mv/churn/v3"), "R3 valid-record")
    assert server.refs() == before
