"""The deploy side (`get`) against an insider on a host WITHOUT the server hook.

Every registry here lives in a plain bare repository with no hook (`git init --bare`), served by
its path: an insider with an allowed signing key and push rights pushes whatever the host takes
(`git push --no-verify`, `--force`). `get` must then refuse what the gate would have refused, name
missing state, and, through its deploy cache, notice a remote that rewrites what it showed before.
Each test asserts the correct behaviour; written as an adversarial review (a failing test was a
finding), they stay as its regression tests. What a host must still enforce itself (reviewed
merges to the protected branch) is docs/hooks.md §5.5.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import (POLICY, forced_promote, old_format_eval, request_reviewed, ModelRepo, Reviewer, accepted, git, make_tag, run_mv, set_clock,
                      tag_message, tag_of)

TAGS = "refs/tags/mv/*:refs/tags/mv/*"
NOTES = "refs/notes/mv-promote"


# ---------------------------------------------------------------- a host without hooks

def bare_repo(path: Path) -> Path:
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    return path


def push(repo, *refspecs: str, force: bool = False) -> None:
    args = ["git", "push", "-q", "--no-verify"] + (["--force"] if force else []) + ["origin", *refspecs]
    accepted(subprocess.run(args, cwd=repo.path, capture_output=True, text=True))


@pytest.fixture
def hookless(tmp_path, keys):
    """alice's clone, pushing to a bare repository with no hook: policy on main, v1 (auc 0.85,
    eu 0.80) evaluated and promoted to staging and production, all pushed. (alice, bare path)."""
    bare = bare_repo(tmp_path / "host.git")
    alice = ModelRepo(tmp_path / "alice", keys)
    alice.git("remote", "add", "origin", str(bare))
    push(alice, "main")
    v1 = alice.version(0.85, 0.80)
    for stage in ("staging", "production"):
        alice.mv("promote", "churn", v1, "--stage", stage)
    push(alice, TAGS, NOTES)
    return alice, bare


def get_remote(bare: Path, deploy: Path, ref: str = "churn@production", out: str = "model", code=None, *extra):
    return run_mv("get", ref, "--remote", str(bare), "-o", out, "--json", *extra, cwd=deploy, code=code)


def deploy_clone(bare: Path, where: Path) -> Path:
    """The documented deploy gate's clone: clone, then fetch the notes."""
    subprocess.run(["git", "clone", "-q", str(bare), str(where)], check=True, capture_output=True)
    git("fetch", "-q", "origin", f"+{NOTES}:{NOTES}", cwd=where)
    return where


def assert_refused(result, *words: str) -> None:
    text = result.out + result.err
    if result.code == 0:
        try:
            got = json.loads(result.out)
            stamp = got.get("stamp") or {}
            brief = (f"handed out {stamp.get('model')} {stamp.get('version')} (seq {stamp.get('seq')}) "
                     f"warnings={got.get('warnings')}") if stamp else f"passed: ok={got.get('ok')} failures={got.get('failures')}"
        except ValueError:
            brief = text.strip().splitlines()[-1] if text.strip() else ""
        raise AssertionError(f"exit 0: {brief}")
    for w in words:
        assert w in text, f"refused, but without naming {w!r}:\n{text}"


# ---------------------------------------------------------------- 1. the gate itself

def test_get_refuses_a_production_entry_whose_eval_fails_the_threshold(hookless, deploy, monkeypatch):
    """v2's own signed eval says auc 0.50 < the policy's 0.80 threshold; a patched client
    promotes it anyway. The gate would refuse this entry."""
    alice, bare = hookless
    v2 = alice.version(0.50, 0.40)
    forced_promote(alice, v2, "production", monkeypatch)
    push(alice, TAGS, NOTES)
    result = get_remote(bare, deploy)
    assert_refused(result, "threshold")
    assert not (deploy / "model").exists()


def test_get_refuses_a_production_entry_that_regresses_on_the_protected_slice(hookless, deploy, monkeypatch):
    """v2: auc 0.90 overall (better) but region=eu 0.50 against live v1's 0.80 (max_regression 0)."""
    alice, bare = hookless
    v2 = alice.version(0.90, 0.50)
    forced_promote(alice, v2, "production", monkeypatch)
    push(alice, TAGS, NOTES)
    assert_refused(get_remote(bare, deploy), "region=eu")


def test_get_refuses_a_version_promoted_after_it_was_deprecated(hookless, deploy, monkeypatch):
    """v2 is deprecated (signed), then promoted by a patched client: the gate refuses a deprecated
    version ('not deprecated'); get only warns."""
    alice, bare = hookless
    set_clock(monkeypatch, "2026-11-02T09:00:00+00:00")
    v2 = alice.version(0.90, 0.85)
    alice.mv("deprecate", "churn", v2, "-m", "leaks labels")
    set_clock(monkeypatch, "2026-11-03T09:00:00+00:00")
    forced_promote(alice, v2, "production", monkeypatch)
    push(alice, TAGS, NOTES)
    assert_refused(get_remote(bare, deploy), "deprecated")


def gate_refuses(bare: Path, where: Path, *words: str) -> None:
    """Precondition: the server hook's own rule, as `audit` re-applies it to published entries,
    refuses the entry (so the chain really is one the gate would refuse)."""
    clone = deploy_clone(bare, where)
    audit = run_mv("audit", "--json", cwd=clone, code=None)
    text = audit.out + audit.err
    assert audit.code == 1 and "stage-entry" in text, text
    for w in words:
        assert w in text, text


@pytest.mark.parametrize("case", ["threshold", "slice", "deprecated"])
def test_audit_finds_the_same_entries_the_gate_refused(hookless, tmp_path, monkeypatch, case):
    alice, bare = hookless
    if case == "deprecated":
        set_clock(monkeypatch, "2026-11-02T09:00:00+00:00")
        v2 = alice.version(0.90, 0.85)
        alice.mv("deprecate", "churn", v2, "-m", "leaks labels")
        set_clock(monkeypatch, "2026-11-03T09:00:00+00:00")
    else:
        v2 = alice.version(0.50, 0.40) if case == "threshold" else alice.version(0.90, 0.50)
    forced_promote(alice, v2, "production", monkeypatch)
    push(alice, TAGS, NOTES)
    gate_refuses(bare, tmp_path / "auditclone", {"threshold": "threshold auc", "slice": "region=eu",
                                                 "deprecated": "deprecated"}[case])


# ---------------------------------------------------------------- 2. which policy, which signers, which approval

TEAM_POLICY = POLICY.replace('allowed_signers = ".mv-promote/allowed_signers"\n',
                             'allowed_signers = ".mv-promote/allowed_signers"\npolicy_approvals = 1\n')


@pytest.fixture
def team(tmp_path, keys, monkeypatch):
    """A hookless host; policy A (approvals = 0, alice and bob allowed) bootstrapped on main, then a
    merge signed by bob raising production's approvals to 1 (policy B). v1 requested by alice,
    merged by bob (signed), promoted to production (#1) with that approval; v2 (better) registered
    and evaluated. (alice, bob, bare, commit of policy A)."""
    bare = bare_repo(tmp_path / "host.git")
    alice = ModelRepo(tmp_path / "alice", keys, policy=TEAM_POLICY, signers=("alice", "bob"))
    policy_a = alice.git("rev-parse", "HEAD")
    alice.git("remote", "add", "origin", str(bare))
    set_clock(monkeypatch, "2026-11-01T10:00:00+00:00")
    alice.reviewed_change({".mv-promote.toml": TEAM_POLICY.replace("approvals = 0", "approvals = 1")
                           .replace("policy_approvals = 1", "policy_approvals = 1")}, "production needs a review")
    push(alice, "main")
    bob = Reviewer(tmp_path / "bob", str(bare), keys, "bob")
    set_clock(monkeypatch, "2026-11-02T09:00:00+00:00")
    v1 = alice.version(0.85, 0.80)
    request_reviewed(alice, bob, v1)
    alice.git("pull", "-q", "--no-rebase", "origin", "main")
    alice.mv("sync")
    rec = alice.mv("promote", "churn", v1, "--stage", "production", "--json").json["record"]
    assert rec["approval"]["approvers"] == ["bob@example.com"]
    push(alice, TAGS, NOTES)
    set_clock(monkeypatch, "2026-11-03T09:00:00+00:00")
    alice.version(0.90, 0.85)  # v2
    push(alice, TAGS, NOTES)
    return alice, bob, bare, policy_a


def test_get_serves_the_reviewed_live_version(team, deploy):
    _, _, bare, _ = team
    assert get_remote(bare, deploy).json["stamp"]["version"] == "v1"


def test_an_unreviewed_promotion_naming_an_older_weaker_policy_is_refused(team, deploy, tmp_path, monkeypatch):
    """Production needs 1 approval since policy B. alice promotes v2 with no review from a checkout
    of policy A (approvals = 0): her stage record is honest about policy A, which main did hold
    once, before the stage ever had an entry. The gate (and audit) judge it under B."""
    alice, _, bare, policy_a = team
    set_clock(monkeypatch, "2026-11-04T09:00:00+00:00")
    alice.git("checkout", "-q", "--detach", policy_a)
    rec = alice.mv("promote", "churn", "v2", "--stage", "production", "--offline", "--json").json["record"]
    alice.git("checkout", "-q", "main")
    assert rec.get("approval") is None and rec["seq"] == 2
    push(alice, TAGS, NOTES)
    gate_refuses(bare, tmp_path / "auditclone", "approvals")
    result = get_remote(bare, deploy)
    assert_refused(result, "approvals")


def test_an_approval_superseded_on_main_before_the_promotion_is_refused(team, deploy, tmp_path, monkeypatch):
    """bob merges alice's request for v2 (M2); later bob merges a request for v3 (M3), so main's
    promotions/churn/production.toml names v3. alice, whose main is still at M2, then promotes v2
    citing M2: the gate on the server (main at M3) refuses; get recomputes at M2 only."""
    alice, bob, bare, _ = team
    set_clock(monkeypatch, "2026-11-04T09:00:00+00:00")
    alice.git("pull", "-q", "--no-rebase", "origin", "main")
    alice.mv("request", "churn", "v2", "--stage", "production", "--push")
    bob.merge("mv-promote/churn/v2-production", sign=True)
    alice.git("pull", "-q", "--no-rebase", "origin", "main")
    alice.mv("sync")
    at_m2 = alice.git("rev-parse", "HEAD")
    set_clock(monkeypatch, "2026-11-05T09:00:00+00:00")
    v3 = alice.version(0.92, 0.86)
    alice.mv("request", "churn", v3, "--stage", "production", "--push")
    bob.merge(f"mv-promote/churn/{v3}-production", sign=True)  # main now asks for v3
    alice.git("reset", "-q", "--hard", at_m2)  # alice's main is stale: still M2
    alice.git("update-ref", "-d", "refs/remotes/origin/main")
    set_clock(monkeypatch, "2026-11-06T09:00:00+00:00")
    rec = alice.mv("promote", "churn", "v2", "--stage", "production", "--offline", "--json").json["record"]
    assert rec["approval"]["approvers"] == ["bob@example.com"]
    push(alice, "refs/tags/mv/churn/production/2", NOTES)
    gate_refuses(bare, tmp_path / "auditclone", "approvals")
    result = get_remote(bare, deploy)
    assert_refused(result, "v3")


# ---------------------------------------------------------------- 3. the stage's sequence

def rewritten_stage_tag(alice: ModelRepo, ref: str, new_ref: str, **changes) -> None:
    """Replace the local stage tag `ref` by a tag `new_ref`, signed by alice, on the same version tag,
    whose record is the honest one with `changes` (its tagger time follows the clock)."""
    from gitmv.records import PromotionRecord, parse_canonical_message

    rec = parse_canonical_message(tag_message(alice, ref), PromotionRecord, ref)
    version_tag = rec.version_tag
    alice.git("tag", "-d", ref.removeprefix("refs/tags/"))
    forged = PromotionRecord(**{**rec.__dict__, **changes})
    make_tag(alice, new_ref, target=version_tag, message=forged.to_message().encode(), key="alice")


@pytest.mark.parametrize("stage", ["staging", "production"])
@pytest.mark.parametrize("hole", ["gap", "garbage-before"])
def test_get_refuses_an_entry_whose_previous_entry_is_missing_or_broken(hookless, deploy, tmp_path, monkeypatch, hole,
                                                                         stage):
    """#1 = v1 (2026-11-01). alice writes #3 = v2, signed, its record saying previous = none and
    dated 2026-10-01, before #1. 'gap': there is no #2; 'garbage-before': #2 is a signed tag whose
    message is no stage record. Read as "no entry before", #3 would pass as the stage's first
    (staging, unprotected, is judged by the record's claims alone)."""
    alice, bare = hookless
    set_clock(monkeypatch, "2026-11-02T09:00:00+00:00")
    v2 = alice.version(0.90, 0.85)
    set_clock(monkeypatch, "2026-10-01T09:00:00+00:00")  # backdated: before #1
    alice.mv("promote", "churn", v2, "--stage", stage, "--offline")
    rewritten_stage_tag(alice, f"refs/tags/mv/churn/{stage}/2", f"refs/tags/mv/churn/{stage}/3", seq=3, previous=None)
    if hole == "garbage-before":
        make_tag(alice, f"refs/tags/mv/churn/{stage}/2", target=tag_of(alice, "v1"), message=b"nothing\n", key="alice")
    push(alice, TAGS, NOTES)
    result = get_remote(bare, deploy, f"churn@{stage}")
    assert_refused(result, f"{stage}/2")
    assert not (deploy / "model").exists()


def test_get_at_a_time_before_any_entry_does_not_answer_with_a_backdated_later_seq(hookless, deploy, monkeypatch):
    """The same backdated #3 (after a gap): production had no version on 2026-10-15 (its first entry
    is 2026-11-01); get --at answers v2 through #3."""
    alice, bare = hookless
    set_clock(monkeypatch, "2026-11-02T09:00:00+00:00")
    v2 = alice.version(0.90, 0.85)
    set_clock(monkeypatch, "2026-10-01T09:00:00+00:00")
    alice.mv("promote", "churn", v2, "--stage", "production", "--offline")
    rewritten_stage_tag(alice, "refs/tags/mv/churn/production/2", "refs/tags/mv/churn/production/3",
                        seq=3, previous=None)
    push(alice, TAGS, NOTES)
    result = run_mv("get", "churn@production", "--remote", str(bare), "--at", "2026-10-15T00:00:00Z", "-o", "then",
                    "--json", cwd=deploy, code=None)
    assert result.code != 0, f"exit 0: --at 2026-10-15 answered {result.json['stamp']['version']} (seq {result.json['stamp']['seq']})"


# ---------------------------------------------------------------- 4. missing state, stale state (the deploy cache)

@pytest.fixture
def no_notes(tmp_path, keys):
    """As `hookless`, but the notes were never pushed: the host has the tags and main only."""
    bare = bare_repo(tmp_path / "host.git")
    alice = ModelRepo(tmp_path / "alice", keys)
    alice.git("remote", "add", "origin", str(bare))
    push(alice, "main")
    v1 = alice.version(0.85, 0.80)
    alice.mv("promote", "churn", v1, "--stage", "staging")
    alice.mv("promote", "churn", v1, "--stage", "production")
    push(alice, TAGS)
    return alice, bare


def test_get_of_a_version_from_a_remote_without_notes_says_it_has_no_evidence(no_notes, deploy):
    """The remote itself holds no notes (nothing is missing locally: there is none to fetch); a
    version asked for by name is served, with a warning that no version there has any record."""
    _, bare = no_notes
    warnings = get_remote(bare, deploy, "churn@v1", code=0).json["warnings"]
    assert any("no evidence notes" in w for w in warnings), warnings


def test_get_of_a_stage_from_a_remote_without_notes_is_refused(no_notes, deploy):
    _, bare = no_notes
    assert_refused(get_remote(bare, deploy, "churn@production"), "eval")


@pytest.mark.parametrize("ref", ["churn@v1", "churn@production"])
def test_get_in_a_clone_that_never_fetched_the_notes_names_the_gap(hookless, tmp_path, ref):
    """A plain `git clone` fetches no notes; the host has them. get reads 'no evidence'."""
    _, bare = hookless
    clone = tmp_path / "plainclone"
    subprocess.run(["git", "clone", "-q", str(bare), str(clone)], check=True, capture_output=True)
    result = run_mv("get", ref, "-o", str(tmp_path / "out"), cwd=clone, code=None)
    assert_refused(result, "notes")


def test_a_warm_deploy_cache_does_not_read_notes_the_remote_no_longer_has(hookless, deploy):
    _, bare = hookless
    get_remote(bare, deploy, out="first", code=0)
    git("update-ref", "-d", NOTES, cwd=bare)  # the host lost (or someone deleted) the evidence
    result = get_remote(bare, deploy, out="second")
    assert_refused(result, "notes")


def test_a_cold_deploy_cache_refuses_a_remote_without_notes_or_main(hookless, deploy, tmp_path, monkeypatch):
    """(passes) What the warm cache should have answered: a fresh cache refuses both."""
    _, bare = hookless
    git("update-ref", "-d", NOTES, cwd=bare)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cold1"))
    assert get_remote(bare, deploy, out="a").code == 1
    git("update-ref", "-d", "refs/heads/main", cwd=bare)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cold2"))
    assert_refused(get_remote(bare, deploy, out="b"), "branch")


def test_a_warm_deploy_cache_does_not_read_a_protected_branch_the_remote_no_longer_has(hookless, deploy):
    _, bare = hookless
    get_remote(bare, deploy, out="first", code=0)
    git("update-ref", "-d", "refs/heads/main", cwd=bare)
    result = get_remote(bare, deploy, out="second")
    assert_refused(result, "branch")


def test_a_warm_deploy_cache_refuses_notes_rewound_to_hide_a_deprecation(hookless, deploy, monkeypatch):
    """v1 (live) is deprecated; the deploy cache has seen that. The notes ref is then force-pushed
    back to before the deprecation (a non-fast-forward, which no ruleset covers on GitHub.com)."""
    alice, bare = hookless
    before = alice.git("rev-parse", NOTES)
    set_clock(monkeypatch, "2026-11-02T09:00:00+00:00")
    alice.mv("deprecate", "churn", "v1", "-m", "label leak found")
    push(alice, NOTES)
    first = get_remote(bare, deploy, out="first", code=0)
    assert any("deprecated" in w for w in first.json["warnings"])
    push(alice, f"{before}:{NOTES}", force=True)
    result = get_remote(bare, deploy, out="second")
    assert_refused(result, NOTES)


def test_a_warm_deploy_cache_refuses_a_protected_branch_rewound_to_re_allow_a_revoked_key(tmp_path, keys, deploy,
                                                                                     monkeypatch):
    """main: A allows alice and mallory; B (a reviewed merge) removes mallory. The deploy cache
    has seen B. mallory force-pushes main back to A and publishes v2, registered, evaluated and
    promoted with her key."""
    bare = bare_repo(tmp_path / "host.git")
    alice = ModelRepo(tmp_path / "alice", keys, signers=("alice", "mallory"))
    a = alice.git("rev-parse", "HEAD")
    alice.git("remote", "add", "origin", str(bare))
    v1 = alice.version(0.85, 0.80)
    alice.mv("promote", "churn", v1, "--stage", "production")
    alice.reviewed_change({".mv-promote/allowed_signers": keys.allowed_line("alice")}, "revoke mallory",
                          reviewer="alice")
    push(alice, "main", TAGS, NOTES)
    get_remote(bare, deploy, out="first", code=0)
    # mallory, from her own copy
    set_clock(monkeypatch, "2026-11-03T09:00:00+00:00")
    alice.git("reset", "-q", "--hard", a)
    alice.git("config", "user.signingkey", str(keys.private("mallory")))
    alice.git("config", "user.email", "mallory@example.com")
    v2 = alice.version(0.90, 0.85)
    alice.mv("promote", "churn", v2, "--stage", "production", "--offline")
    push(alice, "+main", TAGS, NOTES)
    result = get_remote(bare, deploy, out="second")
    assert_refused(result, "main")


def test_a_second_get_of_a_deprecated_live_version_still_says_it_is_deprecated(hookless, deploy, monkeypatch):
    """The remembered verdict (remote unchanged) returns warnings = []: the deprecation vanishes."""
    alice, bare = hookless
    set_clock(monkeypatch, "2026-11-02T09:00:00+00:00")
    alice.mv("deprecate", "churn", "v1", "-m", "label leak found")
    push(alice, NOTES)
    first = get_remote(bare, deploy, out="first", code=0)
    assert any("deprecated" in w for w in first.json["warnings"])
    second = get_remote(bare, deploy, out="second", code=0)  # another directory: files are written
    third = get_remote(bare, deploy, out="second", code=0)  # the same one: nothing to write
    assert any("deprecated" in w for w in second.json["warnings"]), second.json
    assert any("deprecated" in w for w in third.json["warnings"]), (
        f"remembered path: unchanged={third.json['unchanged']} warnings={third.json['warnings']}")


# ---------------------------------------------------------------- 5. attacks refused before this review too

def test_a_higher_seq_with_an_older_tagger_time_is_refused(hookless, deploy, monkeypatch):
    alice, bare = hookless
    set_clock(monkeypatch, "2026-11-02T09:00:00+00:00")
    v2 = alice.version(0.90, 0.85)
    set_clock(monkeypatch, "2026-10-01T09:00:00+00:00")
    alice.mv("promote", "churn", v2, "--stage", "production", "--offline")  # #2, dated before #1
    push(alice, TAGS, NOTES)
    assert_refused(get_remote(bare, deploy), "production/2", "before the previous")


def test_a_stage_tag_on_another_models_version_tag_is_refused(hookless, deploy, monkeypatch):
    """production #2 of churn, record naming churn v2, but the tag points at the version tag of
    another model (fraud v1, registered in the same repository)."""
    alice, bare = hookless
    text = (alice.path / ".mv-promote.toml").read_text()
    (alice.path / ".mv-promote.toml").write_text(text + text[text.index("[models.churn]"):].replace("churn", "fraud"))
    alice.commit("fraud model")
    set_clock(monkeypatch, "2026-11-02T09:00:00+00:00")
    v2 = alice.version(0.90, 0.85)
    alice.mv("register", "fraud", "-m", "fraud")
    alice.mv("promote", "churn", v2, "--stage", "production", "--offline")
    from gitmv.records import PromotionRecord, parse_canonical_message

    ref = "refs/tags/mv/churn/production/2"
    rec = parse_canonical_message(tag_message(alice, ref), PromotionRecord, ref)
    other = alice.git("rev-parse", "refs/tags/mv/fraud/v1")
    for version_tag in (rec.version_tag, other):  # record honest, tag moved; then both moved
        alice.git("tag", "-d", ref.removeprefix("refs/tags/"))
        forged = PromotionRecord(**{**rec.__dict__, "version_tag": version_tag})
        make_tag(alice, ref, target=other, message=forged.to_message().encode(), key="alice")
        push(alice, "main", TAGS, NOTES, force=True)
        assert_refused(get_remote(bare, deploy), "production/2")


def test_an_out_of_grammar_seq_spelling_is_never_read(hookless, deploy):
    """refs/tags/mv/churn/production/02 (a leading zero) naming a v2: not an entry; v1 is served."""
    alice, bare = hookless
    alice.version(0.50, 0.40)
    make_tag(alice, "refs/tags/mv/churn/production/02", target=tag_of(alice, "v2"), message=b"x\n", key="alice")
    push(alice, TAGS, NOTES)
    assert get_remote(bare, deploy, code=0).json["stamp"]["version"] == "v1"


def test_verify_refuses_an_entry_after_a_gap_in_its_stage(hookless, tmp_path, monkeypatch):
    alice, bare = hookless
    set_clock(monkeypatch, "2026-11-02T09:00:00+00:00")
    v2 = alice.version(0.90, 0.85)
    alice.mv("promote", "churn", v2, "--stage", "production", "--offline")
    rewritten_stage_tag(alice, "refs/tags/mv/churn/production/2", "refs/tags/mv/churn/production/3",
                        seq=3, previous=None)
    push(alice, TAGS, NOTES)
    clone = deploy_clone(bare, tmp_path / "deployclone")
    assert_refused(run_mv("verify", cwd=clone, code=None), "production/3", "seq")


# ---------------------------------------------------------------- 6. R9: the eval an entry rests on (third review)

EVIL_EVAL = '''import json, sys
json.dump({"metrics": {"auc": 0.99, "latency_ms": 1.0}, "slices": {"region=eu": {"auc": 0.99},
           "region=us": {"auc": 0.99}}}, open(sys.argv[2], "w"))
'''


def test_get_refuses_a_production_entry_whose_eval_ran_a_private_eval_script(hookless, deploy, tmp_path):
    """R9 eval-provenance: an eval's command digest must be the protected branch's eval command and
    files. alice commits her own eval.py (0.99 whatever the model) and never pushes main, registers
    v2 there (real auc 0.70 against the 0.80 floor), evaluates and promotes it with the ordinary
    CLI. The hook refuses that eval; on a host without it, get (and audit) must refuse the entry."""
    alice, bare = hookless
    (alice.path / "eval.py").write_text(EVIL_EVAL)
    alice.commit("a friendlier eval")
    v2 = alice.version(0.70, 0.60)
    alice.mv("promote", "churn", v2, "--stage", "production")
    push(alice, TAGS, NOTES)  # the host's main still has the honest eval.py
    assert_refused(get_remote(bare, deploy), "eval-provenance")
    assert not (deploy / "model").exists()
    gate_refuses(bare, tmp_path / "auditclone", "eval-provenance")


def test_get_counts_an_eval_from_before_code_commit_existed(hookless, deploy):
    """docs/security.md: evidence from before `code_commit` existed stays evidence where it is; on
    a host without the hook readers count it (restrict who signs evals with eval_signers)."""
    alice, bare = hookless
    v2 = alice.version(0.90, 0.85, evaluate=False)
    old_format_eval(alice, v2)  # auc 0.95, no code_commit
    alice.mv("promote", "churn", v2, "--stage", "production")
    push(alice, TAGS, NOTES)
    assert get_remote(bare, deploy, code=0).json["stamp"]["version"] == v2
