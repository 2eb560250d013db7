"""gitmv.rules.provenance: retrievable versions, evidence that says what produced it, one deprecation."""

from __future__ import annotations

from gitmv.rules.provenance import (ArtifactFacts, EvalFacts, artifact_problems, command_digest, command_paths,
                                    eval_problems, repeated_deprecations)

SHA = "a" * 64
COMMIT = "c" * 40
ARTIFACTS = {"model.bin": {"sha256": SHA, "size": 10}}


def test_an_artifact_committed_with_the_records_digest_is_retrievable():
    assert artifact_problems(ARTIFACTS, {"model.bin": ArtifactFacts(SHA, None)}, COMMIT) == []


def test_an_artifact_committed_with_another_digest_is_named():
    [problem] = artifact_problems(ARTIFACTS, {"model.bin": ArtifactFacts("b" * 64, None)}, COMMIT)
    assert "has sha256 bbbbbbbbbbbb" in problem


def test_an_artifact_neither_committed_nor_pinned_is_not_retrievable():
    [problem] = artifact_problems(ARTIFACTS, {}, COMMIT)
    assert problem.startswith("model.bin is neither committed at cccccccccccc nor tracked by DVC")


def test_a_dvc_pin_makes_an_artifact_retrievable_unless_its_size_differs():
    pin = {"source": "model.bin.dvc", "path": "model.bin", "md5": "0" * 32, "size": 10}
    assert artifact_problems(ARTIFACTS, {"model.bin": ArtifactFacts(None, pin)}, COMMIT) == []
    [problem] = artifact_problems(ARTIFACTS, {"model.bin": ArtifactFacts(None, {**pin, "size": 11})}, COMMIT)
    assert "has 11" in problem


def test_command_paths_are_the_relative_paths_a_command_names():
    assert command_paths("python3 eval/run.py --cfg=conf.yaml {artifact} {output} /abs ../up") == [
        "--cfg=conf.yaml", "conf.yaml", "eval/run.py", "python3"]


def test_the_command_digest_covers_the_command_and_the_files():
    one = command_digest("python3 eval.py", {"eval.py": "1" * 40})
    assert one.startswith("sha256:")
    assert one != command_digest("python3 eval.py", {"eval.py": "2" * 40})
    assert one != command_digest("python3  eval.py", {"eval.py": "1" * 40})


DIGEST = command_digest("python3 eval.py {artifact} {output}", {"eval.py": "1" * 40})
GOOD = EvalFacts("commit", True, ("python3 eval.py {artifact} {output}", DIGEST),
                 ("python3 eval.py {artifact} {output}", DIGEST), "main")
REC = {"code_commit": COMMIT, "command": "python3 eval.py {artifact} {output}", "command_digest": DIGEST}


def test_an_eval_that_ran_mains_command_at_a_published_commit_is_fine():
    assert eval_problems(REC, GOOD) == []


def test_an_eval_without_a_code_commit_is_refused():
    assert eval_problems({"command": "x"}, None) == [
        "it has no code_commit (written by a git mv-promote before evidence named its code commit)"]


def test_an_eval_whose_code_commit_is_missing_or_not_a_commit_is_refused():
    assert "is not in the repository" in eval_problems(REC, EvalFacts(None, False, None, GOOD.protected, "main"))[0]
    assert "is a tree, not a commit" in eval_problems(REC, EvalFacts("tree", False, None, GOOD.protected, "main"))[0]


def test_an_eval_at_an_unpublished_commit_is_refused():
    [problem] = eval_problems(REC, EvalFacts("commit", False, GOOD.at_commit, GOOD.protected, "main"))
    assert "in neither main's history nor a version's" in problem


def test_an_eval_from_a_metrics_file_has_no_command_to_check():
    assert eval_problems({"code_commit": COMMIT}, GOOD) == []


def test_a_command_without_a_digest_is_refused():
    assert eval_problems({"code_commit": COMMIT, "command": "x"}, GOOD) == ["it names a command but no command_digest"]


def test_a_digest_that_is_not_the_one_at_the_code_commit_is_refused():
    [problem] = eval_problems({**REC, "command_digest": "sha256:" + "0" * 64}, GOOD)
    assert "do not match the policy's eval command" in problem


def test_a_digest_true_at_its_commit_but_not_mains_is_refused():
    other = ("python3 eval.py {artifact} {output}", "sha256:" + "9" * 64)
    [problem] = eval_problems(REC, EvalFacts("commit", True, GOOD.at_commit, other, "main"))
    assert "other than the eval command on main" in problem


def _dep(rid: str, reason: str, sunset: str | None = None) -> dict:
    return {"id": rid, "kind": "deprecation", "reason": reason, **({"sunset": sunset} if sunset else {})}


def test_a_deprecation_repeating_an_earlier_one_is_named_with_the_earlier():
    before = [_dep("d1", "leaks")]
    assert repeated_deprecations(before, before + [_dep("d2", "leaks")]) == [("d2", "d1")]


def test_two_new_identical_deprecations_are_one_too_many():
    assert len(repeated_deprecations([], [_dep("d1", "leaks"), _dep("d2", "leaks")])) == 1


def test_a_deprecation_with_another_reason_or_sunset_is_new():
    before = [_dep("d1", "leaks")]
    assert repeated_deprecations(before, before + [_dep("d2", "drift"), _dep("d3", "leaks", "2027-01-01T00:00:00Z")]) == []
