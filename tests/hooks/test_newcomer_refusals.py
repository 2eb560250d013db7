"""Issue "Newcomer": refusals blame the real cause, and `sync` says what it did.

- When the local protected branch is ahead of the remote's (a new model or a new allowed signer
  committed but not pushed), the client `pre-push` hook, `sync` and `request --push` say
  "push main first", name the commits the remote lacks and the exact `git push`, instead of the
  rule the remote's older branch fails ("not in the policy", "not signed by an allowed signer").
- Several refusals are printed one per line, each naming the rule, the ref, the cause and the fix.
- `request --push` leaves nothing behind when its push is refused.
- A stage tag made by hand is refused with "make stage tags with 'git mv-promote promote'".
- `sync` counts the evidence it fetched and shows progress on a terminal.

Every case drives the CLI or a real `git push` against the served bare repositories.
"""

from __future__ import annotations

import os
import pty
import subprocess

import pytest

from conftest import POLICY, ModelRepo, accepted, published_repo, push, refused, run_mv
from conftest import forge_stage_tag
from conftest import Clone, eval_from

NOTES = "refs/notes/mv-promote"
PUSH_MAIN_FIRST = "push main first: git push origin main"
# no approvers needed on main: a reviewed merge of a policy change is then pushable (the fix)
POLICY_NO_BRANCH_APPROVALS = POLICY.replace('allowed_signers = ".mv-promote/allowed_signers"\n',
                                            'allowed_signers = ".mv-promote/allowed_signers"\npolicy_approvals = 0\n')
FRAUD = '''
[models.fraud]
tier = "production"
artifacts = ["fraud.bin"]

[models.fraud.eval]
suite = "holdout"
command = "python3 eval.py {artifact} {output}"

[models.fraud.gate]
metrics = { auc = "max" }
thresholds = { auc = 0.80 }
approvals = 0
'''


@pytest.fixture
def alice(server, tmp_path, keys) -> ModelRepo:
    """alice's clone: the policy on main (alice the one allowed signer) and churn v1, all pushed."""
    repo = ModelRepo(tmp_path / "alice", keys, policy=POLICY_NO_BRANCH_APPROVALS)
    repo.git("remote", "add", "origin", server.url)
    accepted(push(repo, "main"))
    repo.version(0.85, 0.80)
    accepted(push(repo, "refs/tags/mv/churn/v1", NOTES))
    return repo


def _add_fraud_model_locally(repo: ModelRepo) -> str:
    """A reviewed change (what the protected-branch guard accepts), merged but not pushed."""
    policy = (repo.path / ".mv-promote.toml").read_text() + FRAUD
    repo.reviewed_change({".mv-promote.toml": policy, "fraud.bin": "0.9 0.9\n"}, "Add model fraud", reviewer="alice")
    return repo.mv("register", "fraud", "--json").json["version"]


def _allow_bob_locally_and_sign_as_bob(repo: ModelRepo) -> None:
    signers = (repo.path / ".mv-promote" / "allowed_signers").read_text() + repo.keys.allowed_line("bob")
    repo.reviewed_change({".mv-promote/allowed_signers": signers}, "Allow bob to sign", reviewer="alice")
    repo.git("config", "user.signingkey", str(repo.keys.private("bob")))


def _git_push(repo: ModelRepo, *refspecs: str) -> subprocess.CompletedProcess:
    """A plain `git push` as a user types it: the client pre-push hook runs."""
    return subprocess.run(["git", "push", "origin", *refspecs], cwd=repo.path, capture_output=True, text=True)


def _mv_lines(text: str) -> list[str]:
    return [ln.split("mv-promote: ", 1)[1].strip() for ln in text.splitlines() if "mv-promote: refused " in ln]


# ================================================================ push <branch> first

def test_pre_push_blames_the_unpushed_main_for_a_new_model(alice, server):
    alice.mv("hooks", "install")
    v1 = _add_fraud_model_locally(alice)
    before = server.refs()

    proc = _git_push(alice, f"refs/tags/mv/fraud/{v1}")

    assert proc.returncode == 1
    assert "pre-push (client)" in proc.stderr
    [line] = _mv_lines(proc.stderr)
    assert line.startswith(f"refused refs/tags/mv/fraud/{v1}: [R2 policy] origin's main lacks your ")
    assert '"Add model fraud"' in line and "train auc" not in line, "names the commit that matters"
    assert "commit(s) ahead of origin's)" in line and line.endswith(PUSH_MAIN_FIRST)
    assert "is not in the policy" not in proc.stderr
    assert server.refs() == before
    # the named fix works
    accepted(_git_push(alice, "main"))
    accepted(_git_push(alice, f"refs/tags/mv/fraud/{v1}"))


def test_pre_push_keeps_a_refusal_the_unpushed_main_does_not_explain(alice, server):
    alice.mv("hooks", "install")
    _add_fraud_model_locally(alice)
    v2 = alice.version(0.70, 0.70)
    forge_stage_tag(alice, v2, "production", 1)

    proc = _git_push(alice, f"refs/tags/mv/churn/{v2}", "refs/tags/mv/churn/production/1", NOTES)

    assert proc.returncode == 1
    assert "threshold auc" in proc.stderr
    assert "push main first" not in proc.stderr


def test_sync_blames_the_unpushed_main_for_a_new_allowed_signer(alice, server):
    _allow_bob_locally_and_sign_as_bob(alice)
    v2 = alice.version(0.90, 0.85)
    before = server.refs()

    r = alice.mv("sync", code=1)

    assert f"refused refs/tags/mv/churn/{v2}: [R2 policy] origin's main lacks your " in r.err
    assert '"Allow bob to sign"' in r.err
    assert PUSH_MAIN_FIRST in r.err
    assert "not signed by an allowed signer" not in r.err
    assert "fix: git push origin main, then run 'git mv-promote sync' again" in r.err
    assert "[remote rejected]" not in r.err, "the blamed refs are not repeated"
    assert server.refs() == before
    accepted(_git_push(alice, "main"))
    assert f"refs/tags/mv/churn/{v2}" in alice.mv("sync", "--json").json["pushed"]


def test_request_push_blames_the_unpushed_main_and_leaves_no_branch(alice, server):
    _allow_bob_locally_and_sign_as_bob(alice)
    v2 = alice.version(0.90, 0.85)
    before = server.refs()

    r = alice.mv("request", "churn", v2, "--stage", "production", "--push", code=1)

    assert PUSH_MAIN_FIRST in r.err
    assert "not signed by an allowed signer" not in r.err
    assert f"removed the request branch mv-promote/churn/{v2}-production again" in r.err
    assert f"then request again: git mv-promote request churn {v2} --stage production --push" in r.err
    assert alice.ref(f"refs/heads/mv-promote/churn/{v2}-production") is None
    assert server.refs() == before


# ================================================================ request --push leaves nothing behind

def test_request_push_refused_by_the_remote_removes_the_branch_it_made(alice, server):
    v2 = alice.version(0.90, 0.85)
    alice.mv("sync")
    branch = f"mv-promote/churn/{v2}-production"
    # the remote already holds another commit under the request's branch name
    other = alice.git("commit-tree", "-m", "someone else's branch", alice.git("rev-parse", "HEAD^{tree}"))
    accepted(push(alice, f"{other}:refs/heads/{branch}"))
    before = server.refs()

    r = alice.mv("request", "churn", v2, "--stage", "production", "--push", code=1)

    assert f"could not push branch {branch}: [rejected] (" in r.err
    assert f"fix: origin already has a different {branch}: look at it (git fetch origin {branch})" in r.err
    assert f"removed the request branch {branch} again" in r.err
    assert alice.ref(f"refs/heads/{branch}") is None
    assert server.refs() == before
    assert server.refs()[f"refs/heads/{branch}"] == other


# ================================================================ one refusal a line

def test_the_server_prints_each_failed_gate_criterion_on_its_own_line(server, tmp_path, keys):
    repo = published_repo(server, tmp_path, keys)
    v2 = repo.version(0.70, 0.70)
    forge_stage_tag(repo, v2, "production", 2)

    proc = push(repo, f"refs/tags/mv/churn/{v2}", "refs/tags/mv/churn/production/2", NOTES)

    refused(proc, "R1 gate")
    lines = [ln for ln in _mv_lines(proc.stderr) if "production/2" in ln]
    assert len(lines) >= 2, proc.stderr
    assert any("threshold auc" in ln for ln in lines) and any("region=eu" in ln for ln in lines)
    for ln in lines:
        assert ln.startswith("refused refs/tags/mv/churn/production/2: [R1 ")
        assert f"— see 'git mv-promote check churn {v2} --stage production'" in ln
        assert "; " not in ln.split("] ", 1)[1].split(" — ")[0], ln


def test_promote_prints_each_failed_criterion_on_its_own_line(alice):
    v2 = alice.version(0.70, 0.70)
    alice.mv("promote", "churn", "v1", "--stage", "production")

    r = alice.mv("promote", "churn", v2, "--stage", "production", code=1)

    lines = [ln.strip() for ln in r.err.splitlines() if "refused by the gate" in ln]
    assert len(lines) >= 2, r.err
    assert lines[0].startswith(f"error: promotion of churn {v2} to production refused by the gate: ")
    assert all(f"promotion of churn {v2} to production refused by the gate: " in ln for ln in lines)
    assert any("threshold auc" in ln for ln in lines) and any("region=eu" in ln for ln in lines)
    assert f"fix: see 'git mv-promote check churn {v2} --stage production'" in r.err


# ================================================================ hand-made stage tags

def test_a_hand_made_stage_tag_without_a_record_is_refused_naming_promote(server, tmp_path, keys):
    repo = published_repo(server, tmp_path, keys)
    v2 = repo.version(0.90, 0.85)
    accepted(push(repo, f"refs/tags/mv/churn/{v2}", NOTES))
    repo.git("-c", "advice.nestedTag=false", "tag", "-s", "-m", "ship it", "mv/churn/production/2", f"mv/churn/{v2}")
    before = server.refs()

    proc = push(repo, "refs/tags/mv/churn/production/2")

    refused(proc, "R1 valid-record")
    [line] = _mv_lines(proc.stderr)
    assert line.startswith("refused refs/tags/mv/churn/production/2: [R1 valid-record] ")
    assert line.endswith("— make stage tags with 'git mv-promote promote'")
    assert server.refs() == before


def test_a_hand_made_stage_tag_with_a_copied_record_is_refused_naming_promote(server, tmp_path, keys):
    repo = published_repo(server, tmp_path, keys)
    v2 = repo.version(0.90, 0.85)
    accepted(push(repo, f"refs/tags/mv/churn/{v2}", NOTES))
    copied = repo.path.parent / "copied-record"
    copied.write_text(repo.git("tag", "-l", "--format=%(contents:subject)%0a%0a%(contents:body)",
                               "mv/churn/production/1"))
    repo.git("-c", "advice.nestedTag=false", "tag", "-s", "--cleanup=verbatim", "-F", str(copied),
             "mv/churn/production/2", f"mv/churn/{v2}")
    before = server.refs()

    proc = push(repo, "refs/tags/mv/churn/production/2")

    refused(proc, "refs/tags/mv/churn/production/2")
    assert "make stage tags with 'git mv-promote promote'" in proc.stderr
    assert server.refs() == before


# ================================================================ sync says what it did

def test_sync_counts_the_evidence_it_fetched(alice, server, tmp_path, keys):
    bob = Clone(tmp_path / "bob", server.url, keys)
    bob.mv("sync")
    eval_from(alice, "v1", 0.86, 0.81)
    alice.mv("sync")

    report = bob.mv("sync", "--json").json
    assert report["fetched"] == [NOTES] and report["fetched_records"] == 1

    eval_from(alice, "v1", 0.87, 0.82)
    alice.mv("sync")
    out = bob.mv("sync").out
    assert "synced with origin: fetched 0 tag(s) and 1 evidence record(s), pushed 0 ref(s)" in out


def _sync_with_stderr_on_a_terminal(cwd) -> tuple[int, str]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(["git", "mv-promote", "sync"], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(), b"".join(chunks).decode(errors="replace")


def test_sync_shows_progress_on_a_terminal_only(alice, server):
    alice.version(0.90, 0.85)

    code, seen = _sync_with_stderr_on_a_terminal(alice.path)

    assert code == 0
    assert "listing origin's registry refs" in seen and "pushing " in seen
    piped = run_mv("sync", cwd=alice.path)
    assert "listing" not in piped.err
