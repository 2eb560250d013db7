"""Adversarial review of the server hook, third round (of the rules the second round added):
histories that re-root the notes without copying a record, and a version tag object whose own
`tag` header names another tag. Real pushes to a served bare repository with the hook; each test
asserts the correct behaviour (written as findings, they stay as the rules' regression tests).
"""

from __future__ import annotations

import subprocess

import pytest

from conftest import accepted, eval_from, forced_promote, old_format_eval, push, refused, set_clock

NOTES = "refs/notes/mv-promote"


def _git_out(repo, *args: str, input: str | None = None) -> str:
    return subprocess.run(["git", *args], cwd=repo.path, input=input, capture_output=True, text=True,
                          check=True).stdout.strip()


def _passes_production(repo, version: str) -> bool:
    return repo.mv("check", "churn", version, "--stage", "production", "--json", code=None).json["passed"]


@pytest.fixture
def superseded(published, server, monkeypatch):
    """v2 evaluated at 0.90 on a clock an hour ahead, then re-evaluated at 0.70 (below the 0.80
    floor) on one half an hour behind, and pushed: the re-evaluation is the newest by its place in
    the notes history (never by `at`), so v2 cannot be promoted. (alice, v2)."""
    alice = published
    v2 = alice.version(0.90, 0.85, evaluate=False)
    set_clock(monkeypatch, "2026-11-01T10:00:00+00:00")
    eval_from(alice, v2, 0.90, 0.85)
    accepted(push(alice, f"refs/tags/mv/churn/{v2}", NOTES))
    set_clock(monkeypatch, "2026-11-01T09:30:00+00:00")
    eval_from(alice, v2, 0.70, 0.60)
    accepted(push(alice, NOTES))
    set_clock(monkeypatch, "2026-11-01T11:00:00+00:00")
    assert not _passes_production(alice, v2)
    return alice, v2


@pytest.mark.parametrize("first", ["new-root", "old-server-commit", "octopus"])
def test_a_re_rooted_notes_merge_leaves_the_re_evaluation_the_newest(superseded, server, first, monkeypatch):
    """M = merge(P, tip), M's tree the tip's, P an empty new root or a notes commit the server had
    before v2's evals (or an octopus of the root and two server commits). Nothing is copied and
    nothing lost, so the hook takes it; but on M's first-parent chain every record of v2's note
    enters at M at once. Left tied, `at` decided and the superseded 0.90 eval won (and the path-
    limited history had even shown M's second parent as its parent: nothing looked introduced).
    Records a merge brings are ordered by where they were first written."""
    alice, v2 = superseded
    tip = alice.ref(NOTES)
    empty = _git_out(alice, "commit-tree", _git_out(alice, "mktree", input=""), "-m", "notes")
    parents = {"new-root": ["-p", empty, "-p", tip], "old-server-commit": ["-p", f"{tip}~2", "-p", tip],
               "octopus": ["-p", empty, "-p", f"{tip}~1", "-p", tip]}[first]
    m = _git_out(alice, "commit-tree", f"{tip}^{{tree}}", *parents, "-m", "Merge notes")
    alice.git("update-ref", NOTES, m, tip)
    accepted(push(alice, NOTES))
    assert not _passes_production(alice, v2)  # the client's gate: the 0.70 re-evaluation is the newest
    forced_promote(alice, v2, "production", monkeypatch)  # a patched client promotes anyway
    before = server.refs()
    refused(push(alice, "refs/tags/mv/churn/production/2"), "R1 gate")
    assert server.refs() == before


def _renamed_version_tag(repo, version: str, header_name: str) -> str:
    """`version`'s signed tag object made again, same record and commit, with `header_name` in its
    `tag` header, and refs/tags/mv/churn/<version> pointed at it."""
    ref = f"refs/tags/mv/churn/{version}"
    head, _, body = _git_out(repo, "cat-file", "tag", ref).partition("\n\n")
    message = body.split("-----BEGIN")[0]
    commit = head.split("\n")[0].split()[1]
    subprocess.run(["git", "tag", "-s", "--cleanup=verbatim", "-F", "-", header_name, commit], cwd=repo.path,
                   input=message, text=True, check=True, capture_output=True)
    new = _git_out(repo, "rev-parse", f"refs/tags/{header_name}")
    repo.git("update-ref", ref, new)
    repo.git("tag", "-d", header_name)
    return new


@pytest.mark.parametrize("order", ["together", "notes-first"])
def test_a_version_tag_whose_header_names_another_tag_is_refused(published, server, order):
    """R9 found a version through the tag object's own `tag` header: a v2 whose header says
    `mvx/churn/v2` (its record naming the ref, so every other rule took it) carried a hand-written
    0.95 eval without code_commit that R9 never judged. A registry tag must name itself as its ref."""
    alice = published
    v2 = alice.version(0.70, 0.60, evaluate=False)  # really below the 0.80 floor
    _renamed_version_tag(alice, v2, "mvx/churn/v2")
    old_format_eval(alice, v2)  # auc 0.95, no code_commit
    if order == "notes-first":
        accepted(push(alice, NOTES))
    before = server.refs()
    refspecs = [f"refs/tags/mv/churn/{v2}"] + ([NOTES] if order == "together" else [])
    refused(push(alice, *refspecs), "R3 valid-record")
    assert server.refs() == before
