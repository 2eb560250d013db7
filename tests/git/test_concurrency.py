"""Concurrent writers lose no record.

- N processes in one clone append eval records to the same note at once: the notes ref moves by
  compare-and-swap only, so all N x K records are there at the end.
- M clones register, evaluate and sync against one bare server (git daemon, pre-receive hook) at
  once: every version and every eval record written anywhere is on the server at the end
  (records of a renumbered version are found through their `carried_from` id).

Workers start together on a barrier (each prints "ready" and blocks on stdin until the test
writes "go"), so their writes really overlap; nothing sleeps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


from conftest import Clone, accepted, push, report_figures

WRITERS, PER_WRITER = 8, 25
CLONES, ROUNDS = 6, 2

ONE_CLONE_WORKER = r'''
import json, sys
from gitmv import api
from gitmv.errors import ConflictError
repo, writer, count, scratch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print("ready", flush=True)
sys.stdin.readline()
ids, conflicts = [], 0
for i in range(count):
    path = f"{scratch}/metrics-{writer}-{i}.json"
    with open(path, "w") as fh:
        json.dump({"metrics": {"auc": 0.8, "writer": writer, "i": i}}, fh)
    while True:
        try:
            ids.append(api.evaluate("churn", "v1", from_file=path, path=repo)["record"]["id"])
            break
        except ConflictError:  # the CAS retries ran out: the library says "run it again"
            conflicts += 1
print(json.dumps({"ids": ids, "conflicts": conflicts}), flush=True)
'''

CLONE_WORKER = r'''
import json, subprocess, sys
from gitmv import api
from gitmv.errors import ConflictError, RefusedError
repo, index, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def git(*args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
def metrics(auc, tag, n):
    path = f"{repo}/../metrics-{index}-{tag}.json"
    with open(path, "w") as fh:
        json.dump({"metrics": {"auc": auc, "latency_ms": 5.0, "clone": index, "n": n},
                   "slices": {"region=eu": {"auc": auc}}}, fh)
    return path
def sync():
    global sync_retries, server_races
    while True:
        try:
            report = api.sync("origin", path=repo)
            renumbered.extend(report["renumbered"])
            return
        except ConflictError:
            sync_retries += 1
        except RefusedError as exc:
            # BUG (see test_sync.py): a push that loses the race inside the server (another push
            # landed while ours was in the pre-receive hook) is reported as a refusal instead of
            # being retried. Like a user, run sync again -- but only for that failure.
            if "atomic transaction failed" not in exc.cause and "cannot lock ref" not in exc.cause:
                raise
            server_races += 1
print("ready", flush=True)
sys.stdin.readline()
out = {"versions": [], "evals": [], "renumbered": []}
renumbered = out["renumbered"]
sync_retries = server_races = 0
for r in range(rounds):
    with open(f"{repo}/model.bin", "w") as fh:
        fh.write(f"0.9 0.85 5 clone{index} round{r}\n")
    git("add", "model.bin")
    git("commit", "-qm", f"clone {index} round {r}")
    reg = api.register("churn", message=f"clone {index} round {r}", path=repo)
    out["versions"].append(reg["record"]["artifacts"]["model.bin"]["sha256"])
    for n, (version, tag) in enumerate(((reg["version"], f"own{r}"), ("v1", f"v1-{r}"))):
        path = metrics(0.9, tag, 10 * r + n)
        out["evals"].append(api.evaluate("churn", version, from_file=path, path=repo)["record"]["id"])
    sync()
out["sync_retries"] = sync_retries
out["server_races"] = server_races
print(json.dumps(out), flush=True)
'''




def start_workers(script: Path, argvs: list[list[str]]) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, str(script), *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for argv in argvs]
    for p in procs:  # barrier: everyone has imported gitmv and waits
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    return procs


def collect(procs: list[subprocess.Popen], timeout: float) -> list[dict]:
    results = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


# ================================================================ one clone, many processes

def test_parallel_eval_writers_in_one_clone_lose_no_record(model_repo, tmp_path, record_property):
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    script = tmp_path / "writer.py"
    script.write_text(ONE_CLONE_WORKER)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    started = time.monotonic()
    procs = start_workers(script, [[str(r.path), str(w), str(PER_WRITER), str(scratch)] for w in range(WRITERS)])
    results = collect(procs, timeout=120)
    elapsed = time.monotonic() - started

    written = [i for res in results for i in res["ids"]]
    assert len(written) == len(set(written)) == WRITERS * PER_WRITER
    evidence = r.mv("show", "churn", "v1", "--json").json["evidence"]
    found = {rec["id"] for rec in evidence if rec["kind"] == "eval"}
    assert set(written) <= found, f"{len(set(written) - found)} record(s) lost"
    assert len(found) == WRITERS * PER_WRITER
    assert r.mv("verify", "--json").json["ok"] is True
    commits = int(r.git("rev-list", "--count", "refs/notes/mv-promote"))
    assert commits == WRITERS * PER_WRITER, "one notes commit per record: no write overwrote another"
    report_figures(record_property, "one clone, parallel eval writers", {
        "writers": WRITERS, "records_written": len(written), "records_found": len(found),
        "cas_conflicts_surfaced": sum(res["conflicts"] for res in results), "seconds": round(elapsed, 1)})


def test_parallel_cli_eval_writers_in_one_clone_lose_no_record(model_repo, tmp_path, record_property):
    """The same through the real command line: 4 shells each running `git mv-promote eval
    --from-file` 5 times."""
    r = model_repo
    r.version(0.85, 0.80, evaluate=False)
    writers, each = 4, 5
    for w in range(writers):
        for i in range(each):
            (tmp_path / f"m-{w}-{i}.json").write_text(json.dumps({"metrics": {"auc": 0.8, "w": w, "i": i}}))
    loop = "; ".join(f"git mv-promote eval churn v1 --from-file {tmp_path}/m-$W-{i}.json >/dev/null || exit 1"
                     for i in range(each))
    procs = [subprocess.Popen(["sh", "-c", loop], cwd=r.path, env={**os.environ, "W": str(w)},
                              stderr=subprocess.PIPE, text=True) for w in range(writers)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    evidence = r.mv("show", "churn", "v1", "--json").json["evidence"]
    found = len([rec for rec in evidence if rec["kind"] == "eval"])
    assert found == writers * each
    report_figures(record_property, "one clone, parallel CLI eval writers",
                   {"writers": writers, "records_written": writers * each, "records_found": found})


# ================================================================ many clones, one server



def server_evidence(bare: Path) -> tuple[dict, dict]:
    """(version ref -> (digest, [eval records]), every record on the server by id)."""
    import pygit2

    from gitmv import records

    from gitmv.git import notes
    from gitmv.names import VERSION_REF_RE
    from gitmv.git.repo import Repo
    from gitmv.names import NOTES_REF

    repo = Repo(pygit2.Repository(str(bare)))
    head = repo.ref(NOTES_REF)
    everything = {}
    for target in repo.note_targets(head):
        for rec in notes.read_records(repo, head, target):
            everything[rec["id"]] = rec
    versions = {}
    for ref, oid in repo.refs_under("refs/tags/mv/churn/"):
        if VERSION_REF_RE.match(ref):
            tag = repo.tag(oid, ref)
            message, _ = records.split_signature(tag.message.encode())
            record = records.VersionRecord.from_message(message.decode())
            evals = [r for r in notes.read_records(repo, head, oid) if r["kind"] == "eval"]
            versions[ref] = (record.artifacts["model.bin"]["sha256"], evals)
    return versions, everything


def test_many_clones_registering_evaluating_and_syncing_at_once_lose_nothing(
        model_repo, daemon_server, tmp_path, keys, record_property):
    alice = model_repo
    alice.git("remote", "add", "origin", daemon_server.url)
    accepted(push(alice, "main"))
    alice.version(0.85, 0.80)
    alice.mv("sync")
    first_eval = alice.mv("show", "churn", "v1", "--json").json["evidence"][0]["id"]
    clones = [Clone(tmp_path / f"clone{i}", daemon_server.url, keys, name=f"Clone{i}") for i in range(CLONES)]
    script = tmp_path / "clone_worker.py"
    script.write_text(CLONE_WORKER)
    started = time.monotonic()
    procs = start_workers(script, [[str(c.path), str(i), str(ROUNDS)] for i, c in enumerate(clones)])
    results = collect(procs, timeout=150)
    elapsed = time.monotonic() - started

    versions, everything = server_evidence(daemon_server.path)
    registered = {d for res in results for d in res["versions"]}
    on_server = [digest for digest, _ in versions.values()]
    assert len(registered) == CLONES * ROUNDS
    assert sorted(on_server) == sorted(registered | {versions["refs/tags/mv/churn/v1"][0]}), "a version was lost"
    assert sorted(versions, key=lambda ref: int(ref.rsplit("v", 1)[1])) == \
        [f"refs/tags/mv/churn/v{n}" for n in range(1, CLONES * ROUNDS + 2)], "version numbers are not dense"

    # every written eval is on a live version: itself, or a carried copy (through renumberings)
    found = set()
    live = [rec for _, evals in versions.values() for rec in evals]
    for rec in live:
        found.add(rec["id"])
        origin = rec.get("carried_from")
        while origin:
            found.add(origin)
            origin = everything.get(origin, {}).get("carried_from")
    written = [i for res in results for i in res["evals"]] + [first_eval]
    assert len(written) == len(set(written))
    lost = set(written) - found
    assert not lost, f"{len(lost)} eval record(s) lost"
    assert len(live) == len(written), "each written eval lives on exactly one version"
    renumbered = sum(len(res["renumbered"]) for res in results)
    figures = {"clones": CLONES, "versions_registered": len(registered), "versions_found": len(on_server) - 1,
               "records_written": len(written), "records_found": len(live), "renumbered": renumbered,
               "sync_conflicts_surfaced": sum(res["sync_retries"] for res in results),
               "server_races_surfaced_as_refusals": sum(res["server_races"] for res in results),
               "seconds": round(elapsed, 1)}
    report_figures(record_property, "many clones, one server", figures)
    # and the clones all converge once each syncs twice more
    for _ in range(2):
        for c in clones:
            c.mv("sync")
    heads = {c.ref("refs/notes/mv-promote") for c in clones} | {daemon_server.refs()["refs/notes/mv-promote"]}
    assert len(heads) == 1
    assert clones[0].mv("verify", "--json").json["ok"] is True
