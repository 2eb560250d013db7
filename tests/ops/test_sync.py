"""`git mv-promote sync` against real servers (git daemon and nginx/http-backend, with the
pre-receive hook): registry tags and evidence notes are fetched, merged as a union of records by
id and pushed with a compare-and-swap; every clone converges to byte-identical notes; a version
number taken on the server meanwhile is re-registered under the next free number; nothing
published ever moves.

Also home to the helpers the other reliability suites share (`Clone`, `eval_from`, `notes_state`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path


from conftest import Clone, ModelRepo, accepted, eval_from, git, push, run_mv

NOTES = "refs/notes/mv-promote"
TRACKING = "refs/notes/remotes/origin/mv-promote"


# ================================================================ shared helpers





def notes_state(path: Path) -> dict:
    """What a clone (or bare server) holds as evidence: the notes tree id, each annotated object's
    note blob id (`git notes list`), and the note bytes."""
    tree = git("rev-parse", "-q", "--verify", f"{NOTES}^{{tree}}", cwd=path, check=False) or None
    listing = git("notes", "--ref", "mv-promote", "list", cwd=path, check=False) if tree else ""
    blobs = dict(reversed(line.split()) for line in listing.splitlines())
    data = {t: subprocess.run(["git", "notes", "--ref", "mv-promote", "show", t], cwd=path,
                              capture_output=True, check=True).stdout for t in blobs}
    return {"tree": tree, "blobs": blobs, "bytes": data}


def note_records(path: Path, tag_ref: str) -> list[dict]:
    import tomllib

    oid = git("rev-parse", tag_ref, cwd=path)
    raw = subprocess.run(["git", "notes", "--ref", "mv-promote", "show", oid], cwd=path, capture_output=True).stdout
    return tomllib.loads(raw.decode()).get("record", []) if raw else []


def is_ancestor(path: Path, old: str, new: str) -> bool:
    return subprocess.run(["git", "merge-base", "--is-ancestor", old, new], cwd=path).returncode == 0


def registry_refs(refs: dict) -> dict:
    return {k: v for k, v in refs.items() if k.startswith("refs/tags/mv/")}


def publish_first(alice: ModelRepo, server) -> None:
    alice.git("remote", "add", "origin", server.url)
    accepted(push(alice, "main"))


# ================================================================ first contact

def test_first_sync_publishes_tags_and_notes_to_a_remote_that_never_saw_notes(model_repo, server):
    alice = model_repo
    publish_first(alice, server)
    alice.version(0.85, 0.80)
    alice.mv("promote", "churn", "v1", "--stage", "staging")
    assert NOTES not in server.refs() and not registry_refs(server.refs())

    report = alice.mv("sync", "--json").json

    refs = server.refs()
    for ref in ("refs/tags/mv/churn/v1", "refs/tags/mv/churn/staging/1", NOTES):
        assert refs[ref] == alice.ref(ref), ref
    assert sorted(report["pushed"]) == sorted(["refs/tags/mv/churn/v1", "refs/tags/mv/churn/staging/1", NOTES])
    assert alice.ref(TRACKING) == alice.ref(NOTES)
    assert notes_state(server.path) == notes_state(alice.path)
    # a second sync has nothing to do
    again = alice.mv("sync", "--json").json
    assert again["pushed"] == [] and server.refs() == refs


def test_sync_into_a_clone_that_has_no_notes_and_no_tags(model_repo, server, tmp_path, keys):
    alice = model_repo
    publish_first(alice, server)
    alice.version(0.85, 0.80)
    alice.version(0.90, 0.85)
    alice.mv("sync")
    bob = Clone(tmp_path / "bob", server.url, keys, tags=False)
    assert bob.ref(NOTES) is None and bob.git("tag", "-l", "mv/*") == ""

    report = bob.mv("sync", "--json").json

    assert sorted(report["fetched"]) == [NOTES, "refs/tags/mv/churn/v1", "refs/tags/mv/churn/v2"]
    assert report["pushed"] == []
    for ref in ("refs/tags/mv/churn/v1", "refs/tags/mv/churn/v2", NOTES):
        assert bob.ref(ref) == alice.ref(ref), ref
    assert notes_state(bob.path) == notes_state(alice.path)
    assert bob.mv("show", "churn", "v2", "--json").json["evidence"][0]["metrics"]["auc"] == 0.9
    assert bob.mv("verify", "--json").json["ok"] is True


# ================================================================ convergence

def test_every_clone_converges_to_byte_identical_notes(model_repo, server, tmp_path, keys):
    """Three clones add evidence to the same and to different versions without syncing; after
    each syncs twice, every clone and the server hold the same notes tree and note blobs, and
    the note of each version is the union of everybody's records."""
    alice = model_repo
    publish_first(alice, server)
    alice.version(0.85, 0.80)
    alice.mv("sync")
    bob = Clone(tmp_path / "bob", server.url, keys, name="Bob")
    carol = Clone(tmp_path / "carol", server.url, keys, name="Carol")
    for clone in (bob, carol):
        clone.mv("sync")

    written = {"v1": set(), "v2": set()}
    for i, clone in enumerate((alice, bob, carol)):
        for j in range(2):
            written["v1"].add(eval_from(clone, "v1", 0.81 + i / 100, extra={"run": j}).json["record"]["id"])
    alice.version(0.90, 0.85, evaluate=False)  # a new annotated object only alice has
    written["v2"].add(eval_from(alice, "v2", 0.90).json["record"]["id"])
    run_mv("deprecate", "churn", "v1", "-m", "superseded", cwd=carol.path)

    for _ in range(2):
        for clone in (alice, bob, carol):
            clone.mv("sync")

    states = [notes_state(c.path) for c in (alice, bob, carol)] + [notes_state(server.path)]
    assert all(s == states[0] for s in states[1:]), "clones disagree about the notes"
    heads = {c.ref(NOTES) for c in (alice, bob, carol)} | {server.refs()[NOTES]}
    assert len(heads) == 1, "after two rounds every clone fast-forwards to the same notes commit"
    tags = {v: alice.ref(f"refs/tags/mv/churn/{v}") for v in ("v1", "v2")}
    for v, oid in tags.items():
        # the very blob, addressed by its fan-out path, is the same object in every repository
        blob = {git("rev-parse", f"{NOTES}:{oid[:2]}/{oid[2:]}", cwd=p) for p in
                (alice.path, bob.path, carol.path, server.path)}
        assert len(blob) == 1, v
        ids = {r["id"] for r in note_records(alice.path, tags[v]) if r["kind"] == "eval"}
        assert written[v] <= ids, f"records lost on {v}: {written[v] - ids}"
    kinds = [r["kind"] for r in note_records(bob.path, tags["v1"])]
    assert kinds.count("eval") == 7 and kinds.count("deprecation") == 1  # 1 + 3 clones x 2, + carol's
    for clone in (alice, bob, carol):
        assert clone.mv("verify", "--json").json["ok"] is True


def test_notes_started_independently_in_two_clones_merge_without_a_common_root(model_repo, server, tmp_path, keys):
    """Neither the server nor bob has notes when both alice and bob write their first record:
    the two notes histories share no commit, and sync merges them record by record."""
    alice = model_repo
    publish_first(alice, server)
    alice.version(0.85, 0.80, evaluate=False)
    alice.mv("sync")
    assert NOTES not in server.refs()
    bob = Clone(tmp_path / "bob", server.url, keys)
    bob.mv("sync")
    a = eval_from(alice, "v1", 0.85).json["record"]["id"]
    b = eval_from(bob, "v1", 0.86).json["record"]["id"]
    alice.mv("sync")
    bob.mv("sync")
    alice.mv("sync")
    head = server.refs()[NOTES]
    parents = git("rev-list", "--parents", "-n", "1", head, cwd=server.path).split()[1:]
    assert len(parents) == 2, "a merge of the two roots"
    assert {r["id"] for r in note_records(server.path, "refs/tags/mv/churn/v1")} == {a, b}
    assert notes_state(alice.path) == notes_state(bob.path) == notes_state(server.path)


def test_a_lost_race_between_fetch_and_push_is_retried_and_loses_nothing(model_repo, server, tmp_path, keys,
                                                                        monkeypatch):
    """Alice publishes new evidence after bob's sync has fetched and merged but before it
    pushes: bob's push is refused as non-fast-forward, and sync fetches, merges and pushes again."""
    from gitmv.ops import sync as sync_mod

    alice = model_repo
    publish_first(alice, server)
    alice.version(0.85, 0.80)
    alice.mv("sync")
    bob = Clone(tmp_path / "bob", server.url, keys)
    bob.mv("sync")
    theirs = eval_from(alice, "v1", 0.83).json["record"]["id"]
    mine = eval_from(bob, "v1", 0.84).json["record"]["id"]

    real_push = sync_mod._push
    calls = []

    def racing_push(repo, remote, their_refs, merged, report):
        calls.append(merged)
        if len(calls) == 1:  # the race: alice pushes between bob's fetch and bob's push
            subprocess.run(["git", "mv-promote", "sync"], cwd=alice.path, check=True, capture_output=True)
        return real_push(repo, remote, their_refs, merged, report)

    monkeypatch.setattr(sync_mod, "_push", racing_push)
    report = bob.mv("sync", "--json").json

    assert report["attempts"] == 2 and len(calls) == 2
    ids = {r["id"] for r in note_records(server.path, "refs/tags/mv/churn/v1")}
    assert {theirs, mine} <= ids
    alice.mv("sync")
    assert notes_state(alice.path) == notes_state(bob.path) == notes_state(server.path)


# ================================================================ version clashes

def _two_clones_with_published_v1_v2(alice: ModelRepo, server, tmp_path, keys) -> Clone:
    publish_first(alice, server)
    alice.version(0.85, 0.80)
    alice.version(0.86, 0.81)
    alice.mv("sync")
    bob = Clone(tmp_path / "bob", server.url, keys)
    bob.mv("sync")
    return bob


def test_clashing_unpublished_versions_are_renumbered_and_nothing_published_moves(model_repo, server, tmp_path,
                                                                                  keys):
    alice = model_repo
    bob = _two_clones_with_published_v1_v2(alice, server, tmp_path, keys)
    assert alice.version(0.90, 0.85) == "v3"
    assert bob.version(0.91, 0.86, evaluate=False) == "v3"
    bob_eval = eval_from(bob, "v3", 0.91, 0.86).json["record"]
    bob.mv("promote", "churn", "v3", "--stage", "staging")  # a stage tag of the unpublished v3
    bob_v3 = bob.ref("refs/tags/mv/churn/v3")
    bob_commit = bob.git("rev-parse", "HEAD")
    alice.mv("sync")
    before = server.refs()

    # the server refuses the second v3 outright: tags never move
    plain = push(bob, "refs/tags/mv/churn/v3")
    assert plain.returncode != 0 and "already exists" in plain.stdout + plain.stderr
    forced = push(bob, "refs/tags/mv/churn/v3", force=True)
    assert forced.returncode != 0 and "R3 immutable" in forced.stdout + forced.stderr
    assert server.refs() == before

    out = bob.mv("sync").out
    assert "renumbered refs/tags/mv/churn/v3 -> refs/tags/mv/churn/v4 (the remote already had that number)" in out
    assert "dropped refs/tags/mv/churn/staging/1" in out

    after = server.refs()
    for ref, oid in before.items():
        if ref != NOTES:
            assert after[ref] == oid, f"published {ref} moved"
    assert is_ancestor(server.path, before[NOTES], after[NOTES]), "the published notes were rewritten"
    assert "refs/tags/mv/churn/staging/1" not in after
    # bob's clone: v3 is now the published one, his model is v4 (new signed tag, same commit, evals carried)
    assert bob.ref("refs/tags/mv/churn/v3") == before["refs/tags/mv/churn/v3"] != bob_v3
    assert bob.ref("refs/tags/mv/churn/v4") == after["refs/tags/mv/churn/v4"]
    assert bob.ref("refs/tags/mv/churn/staging/1") is None
    assert bob.git("for-each-ref", "refs/mv-sync/") == "", "a holding ref was left behind"
    assert bob.git("for-each-ref", "--points-at", bob_v3, "refs/tags/") == "", "the unpublished tag is still there"
    v4 = bob.mv("show", "churn", "v4", "--json").json
    assert v4["record"]["version"] == "v4" and v4["record"]["commit"] == bob_commit
    assert v4["signature"]["ok"] is True
    carried = [r for r in v4["evidence"] if r["kind"] == "eval"]
    assert [(r["carried_from"], r["metrics"], r["version"]) for r in carried] == \
        [(bob_eval["id"], bob_eval["metrics"], "v4")]
    assert bob.mv("verify", "--json").json["ok"] is True
    # the renumbered version can be promoted again, and alice converges on all of it
    bob.mv("promote", "churn", "v4", "--stage", "staging")
    bob.mv("sync")
    alice.mv("sync")
    assert alice.ref("refs/tags/mv/churn/v4") == bob.ref("refs/tags/mv/churn/v4")
    assert alice.ref("refs/tags/mv/churn/staging/1") == bob.ref("refs/tags/mv/churn/staging/1")
    assert notes_state(alice.path) == notes_state(bob.path) == notes_state(server.path)
    assert alice.mv("verify", "--json").json["ok"] is True


def test_sync_json_reports_the_renumbering(model_repo, server, tmp_path, keys):
    alice = model_repo
    bob = _two_clones_with_published_v1_v2(alice, server, tmp_path, keys)
    alice.version(0.90, 0.85)
    bob.version(0.91, 0.86)
    alice.mv("sync")
    report = bob.mv("sync", "--json").json
    assert report["renumbered"] == [{"from": "refs/tags/mv/churn/v3", "to": "refs/tags/mv/churn/v4"}]
    assert "refs/tags/mv/churn/v4" in report["pushed"]


def test_a_version_published_between_fetch_and_push_is_renumbered_on_retry(model_repo, server, tmp_path, keys,
                                                                           monkeypatch):
    """The tag race: alice publishes v3 after bob's sync listed the remote; bob's atomic push is
    refused ('already exists'), and the retry renumbers bob's v3."""
    from gitmv.ops import sync as sync_mod

    alice = model_repo
    bob = _two_clones_with_published_v1_v2(alice, server, tmp_path, keys)
    alice.version(0.90, 0.85)
    bob.version(0.91, 0.86)
    real_push = sync_mod._push
    calls = []

    def racing_push(repo, remote, their_refs, merged, report):
        calls.append(1)
        if len(calls) == 1:
            subprocess.run(["git", "mv-promote", "sync"], cwd=alice.path, check=True, capture_output=True)
        return real_push(repo, remote, their_refs, merged, report)

    monkeypatch.setattr(sync_mod, "_push", racing_push)
    published_v3 = None
    report = bob.mv("sync", "--json").json
    published_v3 = server.refs()["refs/tags/mv/churn/v3"]
    assert published_v3 == alice.ref("refs/tags/mv/churn/v3")
    assert report["attempts"] == 2
    assert report["renumbered"] == [{"from": "refs/tags/mv/churn/v3", "to": "refs/tags/mv/churn/v4"}]
    assert server.refs()["refs/tags/mv/churn/v4"] == bob.ref("refs/tags/mv/churn/v4")
    assert bob.mv("verify", "--json").json["ok"] is True


# ================================================================ races lost inside the server

RACE_HOOK = """#!/bin/sh
# chained before git mv-promote's pre-receive: the first push that reaches this point finds that
# another push (simulated by moving the notes ref to refs/hold/notes) landed meanwhile.
cat >/dev/null
if [ ! -e mv-raced ]; then
    : > mv-raced
    env -u GIT_QUARANTINE_PATH -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES \\
        git update-ref refs/notes/mv-promote "$(git rev-parse refs/hold/notes)"
fi
exit 0
"""


def test_a_race_lost_inside_the_server_is_retried(model_repo, server, tmp_path, keys):
    """Another push lands while bob's push is in the server's pre-receive hook: git's ref
    transaction then fails ('cannot lock ref ... is at X but expected Y'). That is a lost race,
    like a non-fast-forward, and sync must fetch, merge and push again."""
    alice = model_repo
    publish_first(alice, server)
    alice.version(0.85, 0.80)
    alice.mv("sync")
    bob = Clone(tmp_path / "bob", server.url, keys)
    bob.mv("sync")
    theirs = eval_from(alice, "v1", 0.83).json["record"]["id"]
    accepted(push(alice, f"{NOTES}:refs/hold/notes"))  # alice's next notes commit, not yet published
    mine = eval_from(bob, "v1", 0.84).json["record"]["id"]
    hook = server.path / "hooks" / "pre-receive.mv-promote-chained"
    hook.write_text(RACE_HOOK)
    hook.chmod(0o755)

    result = bob.mv("sync", "--json", code=None)

    assert (server.path / "mv-raced").exists(), "the race was not injected"
    assert result.code == 0, result.err
    assert result.json["attempts"] == 2
    assert {theirs, mine} <= {r["id"] for r in note_records(server.path, "refs/tags/mv/churn/v1")}
