"""The only module that imports pygit2: objects, refs, tags, notes and compare-and-swap updates.

Everything above this module speaks in hex object ids, ref names and bytes. Writes that must be
atomic go through git itself (`git tag` refuses an existing name; `git update-ref NEW OLD` is a
compare-and-swap), so a crash leaves either the old ref or the new one, never half of either.
"""

from __future__ import annotations

import os
import random
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gitmv.git
from gitmv import proc as procs
from gitmv.errors import ConflictError, MvError, NotARepoError, SigningError
from gitmv.names import NOTES_REF


def _import_pygit2_without_ca_bundle() -> None:
    """pygit2's import points libgit2's TLS at the system CA bundle, parsing every certificate in
    it (~10 ms of every command). In our own programs (gitmv.git.LIBGIT2_TLS_UNUSED), which never
    use libgit2's transports, pygit2 is imported first here, shown no bundle and a directory
    holding no certificate (this one) through OpenSSL's own variables, which are put back as they
    were at once: libgit2's HTTPS would then trust nothing (it fails closed), and no child process
    sees a change. Should a TLS backend refuse that, the import is left to the plain one below."""
    here = os.path.dirname(os.path.abspath(__file__))
    if not gitmv.git.LIBGIT2_TLS_UNUSED or "pygit2" in sys.modules or not os.path.isdir(here):
        return
    saved = {name: os.environ.get(name) for name in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    os.environ["SSL_CERT_FILE"] = ""  # not a file: no bundle (pygit2 needs one location, the directory)
    os.environ["SSL_CERT_DIR"] = here
    try:
        import pygit2  # noqa: F401
    except Exception:  # Python drops the failed package: the plain import below runs it again (and reports)
        pass
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_import_pygit2_without_ca_bundle()
import pygit2  # imported above without the CA bundle where that applies
from pygit2.enums import ObjectType, RepositoryOpenFlag

ZERO = "0" * 40
CAS_RETRIES = 1000
CAS_DEADLINE_S = 60.0
FIX_SIGNING = "set up signing: git config gpg.format ssh; git config user.signingkey ~/.ssh/id_ed25519.pub"


@dataclass(frozen=True)
class TagInfo:
    """A tag object: where it points and what it says. `raw` is the whole object, for signatures."""

    id: str
    name: str
    target: str
    target_type: str  # "commit" | "tag" | ...
    message: str
    raw: bytes
    tagger_time: int


class Repo:
    def __init__(self, repo: "pygit2.Repository", hook_mode: bool = False):
        self._r = repo
        self.hook_mode = hook_mode
        self._config: dict[str, list[str]] | None = None
        self._notes_trees: dict = {}
        # (notes commit, fan-out path) -> subtree: reading many notes parses each fan-out tree once
        self._note_subtrees: dict = {}
        self.promisor = False  # a partial clone (`open_partial`): missing blobs are fetched on demand

    # ------------------------------------------------------------ opening

    @classmethod
    def discover(cls, path: str | os.PathLike = ".") -> "Repo":
        found = pygit2.discover_repository(str(path))
        if found is None:
            raise NotARepoError(f"not a Git repository: {os.path.abspath(path)}",
                                "run this inside a Git repository (git init)")
        try:
            return cls(pygit2.Repository(found))
        except pygit2.GitError as exc:
            raise NotARepoError(f"cannot open the repository at {found}: {exc}") from exc

    @classmethod
    def open_for_hook(cls, git_dir: str) -> "Repo":
        """Open as a server hook must: quarantined objects visible through the environment."""
        quarantine = os.environ.get("GIT_QUARANTINE_PATH")
        repo = pygit2.Repository(git_dir, RepositoryOpenFlag.NO_SEARCH)
        if quarantine:
            repo.odb.add_disk_alternate(quarantine)
        return cls(repo, hook_mode=True)

    @classmethod
    def open_partial(cls, git_dir: str | os.PathLike) -> "Repo":
        """Open a partial clone (`extensions.partialClone`, blobs fetched on demand; the deploy
        cache of `get --remote`). libgit2 refuses the extension unless told it may open it, and
        cannot fetch a missing blob itself: `_object` asks git to."""
        pygit2.option(pygit2.enums.Option.SET_EXTENSIONS, ["partialclone"], 1)
        try:
            repo = cls(pygit2.Repository(str(git_dir), RepositoryOpenFlag.NO_SEARCH))
        except pygit2.GitError as exc:
            raise NotARepoError(f"cannot open the repository at {git_dir}: {exc}") from exc
        repo.promisor = True
        return repo

    def _object(self, oid) -> "pygit2.Object":
        """The object `oid` (fetched first in a partial clone, see `_fetching`)."""
        return self._fetching(self._r.__getitem__, oid)

    def _fetching(self, read, oid):
        """`read(oid)`; in a partial clone a blob not fetched yet is fetched first (git's lazy
        fetch from the promisor remote), then read again (libgit2 re-scans packs on a miss)."""
        try:
            return read(oid)
        except KeyError:
            if not self.promisor:
                raise
        self.git("cat-file", "-e", str(oid), check=False)
        return read(oid)

    @property
    def git_dir(self) -> Path:
        return Path(self._r.path)

    @property
    def workdir(self) -> Path | None:
        return Path(self._r.workdir) if self._r.workdir else None

    @property
    def is_bare(self) -> bool:
        return self._r.is_bare

    @property
    def is_shallow(self) -> bool:
        return self._r.is_shallow

    def head_commit(self) -> str:
        if self._r.head_is_unborn:
            raise NotARepoError("the repository has no commits yet", "commit your code first (git commit)")
        return str(self._r.head.target)

    def head_branch(self) -> str | None:
        if self._r.head_is_unborn or self._r.head_is_detached:
            return None
        return self._r.head.shorthand

    def head_ref(self) -> str | None:
        """The ref HEAD names, born or not, as `git symbolic-ref -q HEAD` prints it (None when
        detached), read in process: the hook asks on every registry push."""
        try:
            target = self._r.lookup_reference("HEAD").target
        except (KeyError, pygit2.GitError):
            return None
        return target if isinstance(target, str) else None

    # ------------------------------------------------------------ git subprocess

    def git(self, *args: str, input: bytes | None = None, check: bool = True, env: dict | None = None
            ) -> procs.Completed:
        """Run git on this repository. In a server hook no GIT_* variable but the quarantine's
        reaches it (unless the caller passes `env`)."""
        cmd = ["git", "--git-dir", str(self.git_dir)]
        if self.workdir is not None:
            cmd += ["--work-tree", str(self.workdir)]
        run_env = env if env is not None else (procs.git_free_env(keep_quarantine=True) if self.hook_mode else None)
        proc = procs.run(cmd + list(args), input=input, env=run_env, cwd=str(self.workdir or self.git_dir))
        return proc.check(f"git {args[0]} failed") if check else proc

    def config(self, key: str) -> str | None:
        """A config value as git itself sees it (GIT_CONFIG_GLOBAL, includes, `-c`), so what we
        record about identity and signing agrees with what `git tag -s` uses."""
        found = self.config_all(key)
        return found[-1] if found else None

    def config_all(self, key: str) -> list[str]:
        """Every value of a multi-valued key (e.g. remote.<name>.fetch), in git's order."""
        if self._config is None:
            proc = self.git("config", "--list", "-z", check=False)
            values: dict[str, list[str]] = {}
            for item in proc.stdout.decode("utf-8", "replace").split("\0"):
                name, _, value = item.partition("\n")
                if name:
                    values.setdefault(name.lower(), []).append(value)
            self._config = values
        return self._config.get(key.lower(), [])

    def fetch_refspecs(self) -> dict[str, list[str]]:
        """Each remote's fetch refspecs, read in process (no `git config` child: every read command
        asks this, see ops.context.visibility_gaps)."""
        return {r.name: list(r.fetch_refspecs) for r in self._r.remotes if r.name}

    def remotes(self) -> list[str]:
        """Configured remote names, read in process."""
        return sorted(r.name for r in self._r.remotes if r.name)

    def identity(self) -> str:
        name, email = self.config("user.name"), self.config("user.email")
        if not name or not email:
            raise MvError("git does not know who you are (user.name / user.email unset)",
                          "git config user.name 'Your Name'; git config user.email you@example.com")
        return f"{name} <{email}>"

    def _signature(self) -> "pygit2.Signature":
        """Commit identity for notes and request commits (honours GIT_COMMITTER_DATE like git)."""
        name, email = self.config("user.name"), self.config("user.email")
        when = os.environ.get("GIT_COMMITTER_DATE")
        if name and email:
            fixed = parse_git_date(when) if when else None
            return pygit2.Signature(name, email, *fixed) if fixed else pygit2.Signature(name, email)
        return pygit2.Signature("git-mv-promote", "mv-promote@localhost")

    # ------------------------------------------------------------ objects

    def exists(self, oid: str) -> bool:
        try:
            return oid in self._r.odb
        except (ValueError, pygit2.GitError):
            return False

    def object_type(self, oid: str) -> str | None:
        """"commit", "tag", "tree", "blob", or None for a missing object."""
        try:
            return _TYPE_NAMES.get(self._r.odb.read(oid)[0])
        except (KeyError, ValueError, pygit2.GitError):
            return None

    def read_raw(self, oid: str) -> bytes:
        return self._r.odb.read(oid)[1]

    def tag(self, oid: str, name: str = "") -> TagInfo | None:
        try:
            kind, raw = self._r.odb.read(oid)
        except (KeyError, ValueError, pygit2.GitError):
            return None
        if kind != ObjectType.TAG:
            return None
        # the header of a tag as git writes it, read here (libgit2's Tag object would read the
        # object a second time); anything else goes to libgit2's parser
        m = _TAG_HEADER.match(raw)
        if m is None or b"\0" in raw or not _FULL_ID.fullmatch(str(oid)):
            return self._tag_parsed(oid, name, raw)  # libgit2 reads the name and message as C strings: a NUL cuts them
        try:
            target_type = _TYPE_NAMES.get(self._r.odb.read_header(m.group(1).decode())[0])
        except (KeyError, ValueError, pygit2.GitError):
            target_type = None  # the header alone, not the target read whole: is it a commit?
        return TagInfo(id=str(oid), name=name or m.group(2).decode("utf-8", "replace"), target=m.group(1).decode(),
                       target_type=target_type or "missing", message=raw[m.end():].decode("utf-8", "replace"),
                       raw=raw, tagger_time=int(m.group(3) or 0))

    def _tag_parsed(self, oid: str, name: str, raw: bytes) -> TagInfo | None:
        try:
            obj = self._r.get(oid)
        except (ValueError, pygit2.GitError):  # a header libgit2 cannot parse: not a tag to read
            return None
        if not isinstance(obj, pygit2.Tag):
            return None
        tagger_time = obj.tagger.time if obj.tagger is not None else 0
        target_type = _TYPE_NAMES.get(self._r.odb.read_header(obj.target)[0]) if obj.target in self._r.odb else None
        return TagInfo(id=str(obj.id), name=name or obj.raw_name.decode("utf-8", "replace"), target=str(obj.target),
                       target_type=target_type or "missing",
                       message=(obj.raw_message or b"").decode("utf-8", "replace"),  # None: no blank line, no message
                       raw=raw, tagger_time=tagger_time)

    def blob_at(self, commit: str, path: str) -> bytes | None:
        try:
            tree = self._r[commit].peel(pygit2.Tree)
            entry = tree[path]
        except (KeyError, ValueError, pygit2.GitError):
            return None
        obj = self._object(entry.id)
        return obj.data if isinstance(obj, pygit2.Blob) else None

    def blob_ids(self, commit: str, paths: list[str]) -> dict[str, str]:
        """path -> blob id for each of `paths` that is a file in `commit`'s tree (others left out)."""
        try:
            tree = self._r[commit].peel(pygit2.Tree)
        except (KeyError, ValueError, pygit2.GitError):
            return {}
        out = {}
        for path in paths:
            try:
                entry = tree[path]
            except (KeyError, ValueError, pygit2.GitError):
                continue
            if entry.type_str == "blob":
                out[path] = str(entry.id)
        return out

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        if ancestor == descendant:
            return True
        try:
            return self._r.descendant_of(descendant, ancestor)
        except (KeyError, ValueError, pygit2.GitError):
            return False

    def commit_info(self, oid: str) -> dict:
        c = self._r[oid].peel(pygit2.Commit)
        return {"id": str(c.id), "parents": [str(p) for p in c.parent_ids], "message": c.message,
                "author": f"{c.author.name} <{c.author.email}>",
                "committer": f"{c.committer.name} <{c.committer.email}>", "time": c.commit_time}

    def commits_between(self, old: str, new: str, limit: int = 200) -> list[dict]:
        """Commits reachable from `new` and not from `old`, newest first."""
        walker = self._r.walk(new, pygit2.enums.SortMode.TOPOLOGICAL)
        try:
            walker.hide(old)
        except (KeyError, ValueError, pygit2.GitError):
            pass
        out = []
        for c in walker:
            out.append({"id": str(c.id), "subject": c.message.splitlines()[0] if c.message else ""})
            if len(out) >= limit:
                break
        return out

    def first_parent_walk(self, start: str) -> Iterator[dict]:
        """Commits along first parents from `start` (newest first), as commit_info dicts."""
        oid: str | None = start
        while oid:
            info = self.commit_info(oid)
            yield info
            oid = info["parents"][0] if info["parents"] else None

    def changed_files(self, old: str, new: str) -> list[str]:
        a = self._r[old].peel(pygit2.Tree)
        b = self._r[new].peel(pygit2.Tree)
        diff = a.diff_to_tree(b)  # what Repository.diff does for two trees
        return sorted({d.new_file.path for d in diff.deltas} | {d.old_file.path for d in diff.deltas})

    def first_parent_new(self, new: str, hide: list[str]) -> list[str]:
        """`git rev-list --first-parent new ^hide…`: the commits a push adds to a branch's
        first-parent history (newest first). Cost follows the commits added."""
        walker = self._r.walk(new, pygit2.enums.SortMode.NONE)
        walker.simplify_first_parent()
        for oid in hide:
            walker.hide(oid)
        return [str(c.id) for c in walker]

    def merge_bases(self, a: str, b: str) -> list[str]:
        """`git merge-base --all a b`: every best common ancestor (a criss-cross history has
        several, and a rule that needs "the" base must hold at each of them)."""
        proc = self.git("merge-base", "--all", a, b, check=False)
        if proc.returncode == 1:  # no common ancestor
            return []
        return proc.check("git merge-base failed").stdout.decode().split()

    def tree_id(self, commit: str) -> str:
        return str(self._r[commit].peel(pygit2.Commit).tree_id)

    def changed_paths(self, old: str | None, new: str, paths: list[str], prefixes: list[str]) -> list[str]:
        """Which of `paths`, and which files under the directories `prefixes` ('dir/'), differ
        between two commits (old None: the empty tree). Only those entries are compared, so the
        cost does not grow with the size of the trees."""
        a = self._r[old].peel(pygit2.Tree) if old else None
        b = self._r[new].peel(pygit2.Tree)

        def entry(tree, path):
            if tree is None:
                return None
            try:
                e = tree[path]
            except (KeyError, ValueError):
                return None
            return (str(e.id), e.filemode)

        out = {p for p in paths if entry(a, p) != entry(b, p)}
        for prefix in prefixes:
            d = prefix.rstrip("/")
            ea, eb = entry(a, d), entry(b, d)
            if ea == eb:
                continue
            ta = self._r[ea[0]] if ea else None
            tb = self._r[eb[0]] if eb else None
            ta = ta if isinstance(ta, pygit2.Tree) else None
            tb = tb if isinstance(tb, pygit2.Tree) else None
            if ta is None or tb is None:
                if (ea and ta is None) or (eb and tb is None):
                    out.add(d)  # a file where the directory belongs
                for t in (ta, tb):
                    if t is not None:
                        out.update(f"{d}/{delta.new_file.path}" for delta in t.diff_to_tree(swap=True).deltas)
                continue
            for delta in ta.diff_to_tree(tb).deltas:
                out.update(f"{d}/{p}" for p in (delta.old_file.path, delta.new_file.path))
        return sorted(out)

    def resolve_commit(self, rev: str) -> str | None:
        try:
            return str(self._r.revparse_single(rev).peel(pygit2.Commit).id)
        except (KeyError, ValueError, pygit2.GitError):
            return None

    # ------------------------------------------------------------ refs

    def ref(self, name: str) -> str | None:
        try:
            ref = self._r.references.get(name)
        except (ValueError, pygit2.GitError):
            return None
        if ref is None:
            return None
        target = ref.target
        if isinstance(target, str):  # symbolic
            return self.ref(target)
        return str(target)

    def refs_under(self, prefix: str) -> list[tuple[str, str]]:
        """(name, oid) of every ref under `prefix` (ending in '/'), sorted by name.

        `git for-each-ref` seeks into packed-refs by prefix, so the cost follows the refs asked
        for, not every ref in the repository. The output is read as NUL-framed bytes (a name may
        hold U+2028 or U+0085, which line splitting would cut); names that are not UTF-8 are
        skipped: no name this tool reads or writes can be one, and skipping never misreads them.
        """
        out = []
        for raw, oid in self.refs_under_raw(prefix):
            name = _utf8(raw)
            if name is not None:
                out.append((name, oid))
        return out

    def refs_under_raw(self, prefix: str) -> list[tuple[bytes, str]]:
        """(name bytes, oid) of every ref under `prefix`, exactly as git names them."""
        from gitmv.rules.refs import parse_ref_listing

        return [(name, oid.decode("ascii")) for name, oid in parse_ref_listing(self.ref_listing(prefix), 2)]

    def ref_listing(self, pattern: str) -> bytes:
        """`git for-each-ref` output for `pattern` as git writes it, sorted by name: a line
        `name NUL oid NUL LF` per ref (rules.refs.parse_ref_listing reads it). The same refs give
        the same bytes, so a hash of them stands for the state of those refs."""
        return self.git("for-each-ref", "--format=%(refname)%00%(objectname)%00", pattern).stdout

    def update_ref(self, name: str, new: str, old: str | None, message: str = "git-mv-promote") -> bool:
        """Compare-and-swap: move `name` from `old` (None: must not exist) to `new`. False if lost.
        A stale lock file (a git killed mid-update) is not a lost race: it is named."""
        proc = self.git("update-ref", "-m", message, name, new, old or ZERO, check=False)
        if proc.returncode != 0:
            _raise_if_cannot_lock(proc.stderr)
        return proc.returncode == 0

    def delete_ref(self, name: str, old: str) -> bool:
        proc = self.git("update-ref", "-d", name, old, check=False)
        return proc.returncode == 0

    def create_tag(self, name: str, target: str, message: str, sign: bool, date: str | None = None) -> str:
        """Create annotated tag `refs/tags/<name>` with git (signing needs it); git refuses an existing name.
        `date` fixes the tagger time, so a record's `at` and its tag's time are one fact."""
        flags = ["-s"] if sign else ["-a"]
        env = {**os.environ, "GIT_COMMITTER_DATE": date} if date else None
        proc = self.git("-c", "advice.nestedTag=false", "tag", *flags, "--cleanup=verbatim", "-F", "-",
                        name, target, input=message.encode(), check=False, env=env)
        if not proc.ok:
            _raise_if_cannot_lock(proc.stderr)
            if b"already exists" in proc.stderr:
                raise ConflictError(f"tag {name} already exists", "another writer took it; run the command again")
            if sign:
                proc.fail(f"could not sign tag {name}", FIX_SIGNING, SigningError)
            proc.fail(f"could not create tag {name}")
        oid = self.ref(f"refs/tags/{name}")
        assert oid is not None
        return oid

    def create_tag_object(self, name: str, target: str, message: str) -> str:
        """An unsigned annotated tag object with no ref (for refs outside refs/tags)."""
        ident = self.git("var", "GIT_COMMITTER_IDENT").stdout.decode().strip()
        text = f"object {target}\ntype commit\ntag {name}\ntagger {ident}\n\n{message}"
        return self.git("mktag", input=text.encode()).stdout.decode().strip()

    # ------------------------------------------------------------ notes

    def _notes_tree(self, notes_commit: str):
        cached = self._notes_trees.get(notes_commit)
        if cached is not None:
            return cached
        try:
            tree = self._r[notes_commit].peel(pygit2.Commit).tree
            self._notes_trees = {notes_commit: tree}  # only the latest: notes commits are immutable
            return tree
        except (KeyError, ValueError, pygit2.GitError):
            from gitmv.errors import RecordError

            raise RecordError(f"notes commit {notes_commit[:12]} is missing or not a commit",
                              "restore refs/notes/mv-promote from a clone (git fetch origin "
                              "+refs/notes/mv-promote:refs/notes/mv-promote) or from its reflog") from None

    def check_notes_commit(self, ref: str) -> str | None:
        """The commit a notes ref names, or a RecordError when it names anything else."""
        oid = self.ref(ref)
        if oid is None:
            return None
        from gitmv.errors import RecordError

        try:
            kind = self._r.odb.read(oid)[0]
        except (KeyError, ValueError, pygit2.GitError):
            kind = None
        if kind != ObjectType.COMMIT:
            what = "a missing object" if kind is None else f"a {_TYPE_NAMES.get(kind, 'non-commit')}"
            raise RecordError(f"{ref} points at {what} ({oid[:12]}), not a notes commit",
                              f"restore it from a clone (git fetch origin +{ref}:{ref}) or from its reflog")
        return oid

    def notes_commit_tree(self, notes_commit: str | None) -> str | None:
        if notes_commit is None:
            return None
        return str(self._r[notes_commit].peel(pygit2.Commit).tree_id)

    def read_note(self, target: str, notes_commit: str | None) -> bytes | None:
        """The note on `target` in the notes commit, whatever its fan-out (flat, 2/38, 2/2/36)."""
        blob = self.note_blob_id(target, notes_commit)
        return None if blob is None else self.blob_data(blob)

    def blob_data(self, blob: str) -> bytes:
        """The bytes of the blob `blob` (fetched first in a partial clone, see `_fetching`), read
        from the object store without building a Blob object."""
        kind, data = self._fetching(self._r.odb.read, blob)
        if kind != ObjectType.BLOB:
            raise KeyError(blob)
        return data

    def note_blob_id(self, target: str, notes_commit: str | None) -> str | None:
        """The object id of the note's blob on `target`, found without reading the blob: what a
        cache of parsed notes is keyed by (the same id is the same bytes)."""
        if notes_commit is None:
            return None
        if len(self._note_subtrees) > 4096:
            self._note_subtrees.clear()
        return _find_note(self._r, self._notes_tree(notes_commit), target, subtrees=self._note_subtrees,
                          key=notes_commit)

    @staticmethod
    def blob_id(data: bytes) -> str:
        """The object id `data` has as a blob (what `note_blob_id` returns for a note of these bytes)."""
        return str(pygit2.hash(data))

    def note_targets(self, notes_commit: str | None) -> list[str]:
        """Every annotated object id in a notes commit."""
        if notes_commit is None:
            return []
        out: list[str] = []
        _walk_notes(self._r, self._notes_tree(notes_commit), "", out)
        return out

    def changed_note_targets(self, old: str | None, new: str) -> set[str]:
        """Annotated objects whose note differs between two notes commits (a tree diff: only
        changed fan-out subtrees are read, so the cost follows the change)."""
        new_tree = self._r[new].peel(pygit2.Commit).tree
        if old is None:
            return set(self.note_targets(new))
        old_tree = self._r[old].peel(pygit2.Commit).tree
        out = set()
        for patch_delta in old_tree.diff_to_tree(new_tree).deltas:
            for path in (patch_delta.old_file.path, patch_delta.new_file.path):
                name = path.replace("/", "")
                if len(name) == 40:
                    out.add(name)
        return out

    def notes_history(self, notes_commit: str | None) -> list[str]:
        """Notes commits from newest to oldest (all parents)."""
        if notes_commit is None:
            return []
        return [str(c.id) for c in self._r.walk(notes_commit, pygit2.enums.SortMode.TOPOLOGICAL)]

    def write_notes(self, updates: dict[str, bytes], parents: list[str], message: str) -> str:
        """A new notes commit: the first parent's tree with `updates` (target -> note bytes) written
        at 2/38 fan-out (any other copy of the same note removed). Returns the commit id."""
        base = self._r[parents[0]].peel(pygit2.Commit).tree if parents else None
        tree_id = _tree_with_notes(self._r, base, updates)
        sig = self._signature()
        oid = self._r.create_commit(None, sig, sig, message, tree_id, [pygit2.Oid(hex=p) for p in parents])
        return str(oid)

    def commit_files(self, base: str, files: dict[str, bytes], message: str, sign: bool = False) -> str:
        """A commit on top of `base` whose tree is base's with `files` written (paths with '/'), or
        base's tree unchanged when `files` is empty. Touches neither the index nor the work tree;
        moves no ref. `sign` signs it with the user's git signing setup (`git commit-tree -S`),
        since identity in approvals is the commit's signature."""
        base_tree = self._r[base].peel(pygit2.Commit).tree
        tree_id = _tree_with_files(self._r, base_tree, files) if files else base_tree.id
        if sign:
            return self._signed_commit(str(tree_id), base, message)
        author = self._signature()
        oid = self._r.create_commit(None, author, author, message, tree_id, [pygit2.Oid(hex=base)])
        return str(oid)

    def _signed_commit(self, tree: str, parent: str, message: str) -> str:
        proc = self.git("commit-tree", "-S", tree, "-p", parent, "-F", "-", input=message.encode(), check=False)
        return proc.check("could not sign the commit", FIX_SIGNING, SigningError).stdout.decode().strip()

    def cas_notes_update(self, compute, ref: str = NOTES_REF, message: str = "git-mv-promote notes") -> str | None:
        """Read-modify-write of a notes ref with compare-and-swap and retry.

        `compute(old_commit_or_None)` returns the new commit id, or None when nothing changes.
        Concurrent writers each retry on the fresh state, so no record is lost.
        """
        deadline = time.monotonic() + CAS_DEADLINE_S
        for attempt in range(CAS_RETRIES):
            old = self.ref(ref)
            new = compute(old)
            if new is None or new == old:
                return old
            if self.update_ref(ref, new, old, message):
                return new
            if time.monotonic() > deadline:
                break
            # lost the race: back off a random, growing while so writers stop colliding in step
            time.sleep(random.uniform(0, min(0.005 * (2 ** min(attempt, 7)), 0.5)))
        raise ConflictError(f"{ref} kept changing under us ({attempt + 1} tries)", "run the command again")


_TYPE_NAMES = {ObjectType.COMMIT: "commit", ObjectType.TREE: "tree", ObjectType.BLOB: "blob", ObjectType.TAG: "tag"}


# a tag object's header exactly as `git tag` writes it (object, type, tag, an optional tagger
# line, a blank line); the tagger's time is its Unix seconds
_TAG_HEADER = re.compile(rb"object ([0-9a-f]{40})\ntype (?:commit|tree|blob|tag)\ntag ([^\n]*)\n"
                         rb"(?:tagger [^\n<>]*<[^\n<>]*> ([0-9]{1,12}) [+-][0-9]{4}\n)?\n")

_FULL_ID = re.compile(r"[0-9a-f]{40}")

LOCK_RE = re.compile(r"Unable to create '([^']+[.]lock)': File exists")
BLOCKED_RE = re.compile(r"cannot lock ref '([^']*)': '([^']*)' exists; cannot create")


def _utf8(name: bytes) -> str | None:
    try:
        return name.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _raise_if_cannot_lock(stderr: bytes) -> None:
    text = stderr.decode(errors="replace")
    m = LOCK_RE.search(text)
    if m:
        raise MvError(f"ref lock {m.group(1)} exists: another git is updating it, or one crashed",
                      f"if no git process is running, remove {m.group(1)}")
    m = BLOCKED_RE.search(text)  # a ref "a/b" and a ref "a" cannot both exist (files backend)
    if m:
        raise MvError(f"{m.group(1)} cannot be created: the ref {m.group(2)} is in the way",
                      f"if it is no ref of yours, remove it: git update-ref -d {m.group(2)}")


def parse_git_date(text: str) -> tuple[int, int] | None:
    """GIT_COMMITTER_DATE in the forms git accepts ('@<epoch> <tz>', '<epoch> <tz>', ISO 8601,
    RFC 2822) as (epoch, offset minutes); None when it cannot be read."""
    from datetime import datetime
    from email.utils import parsedate_to_datetime

    t = text.strip().lstrip("@")
    parts = t.split()
    try:
        if parts and parts[0].isdigit():
            tz = parts[1] if len(parts) > 1 else "+0000"
            sign = -1 if tz.startswith("-") else 1
            return int(parts[0]), sign * (int(tz[-4:-2]) * 60 + int(tz[-2:]))
        try:
            dt = datetime.fromisoformat(t.replace("Z", "+00:00"))
        except ValueError:
            dt = parsedate_to_datetime(t)
    except (ValueError, TypeError, IndexError):
        return None
    off = dt.utcoffset()
    return int(dt.timestamp()), int(off.total_seconds() // 60) if off else 0


def _tree_with_files(r, base, files: dict[str, bytes]) -> "pygit2.Oid":
    here: dict[str, bytes] = {}
    below: dict[str, dict[str, bytes]] = {}
    for path, data in files.items():
        head, sep, rest = path.partition("/")
        if sep:
            below.setdefault(head, {})[rest] = data
        else:
            here[head] = data
    builder = r.TreeBuilder(base) if base is not None else r.TreeBuilder()
    for name, data in here.items():
        builder.insert(name, r.create_blob(data), pygit2.enums.FileMode.BLOB)
    for name, sub in below.items():
        sub_base = None
        if base is not None and name in base:
            obj = r[base[name].id]
            sub_base = obj if obj.type == ObjectType.TREE else None
        builder.insert(name, _tree_with_files(r, sub_base, sub), pygit2.enums.FileMode.TREE)
    return builder.write()


def _find_note(r, tree, target: str, prefix_len: int = 0, subtrees: dict | None = None, key: str = "") -> str | None:
    """The id of the note blob on `target` (the tree entry's type says it is a blob: no read)."""
    rest = target[prefix_len:]
    try:
        entry = tree[rest]
        if entry.type == ObjectType.BLOB:
            return str(entry.id)
    except KeyError:
        pass
    if len(rest) > 2:
        where = (key, target[:prefix_len + 2])
        sub = subtrees.get(where) if subtrees is not None else None
        if sub is None:
            try:
                sub = r[tree[rest[:2]].id]
            except KeyError:
                return None
            if subtrees is not None and key:
                subtrees[where] = sub
        if sub.type == ObjectType.TREE:
            return _find_note(r, sub, target, prefix_len + 2, subtrees, key)
    return None


def _walk_notes(r, tree, prefix: str, out: list) -> None:
    for entry in tree:
        name = prefix + entry.name
        if entry.type_str == "tree":
            _walk_notes(r, r[entry.id], name, out)
        elif entry.type_str == "blob" and len(name) == 40:
            out.append(name)


def _tree_with_notes(r, base, updates: dict[str, bytes]) -> "pygit2.Oid":
    root = r.TreeBuilder(base) if base is not None else r.TreeBuilder()
    by_fan: dict[str, dict[str, bytes]] = {}
    for target, data in updates.items():
        if base is not None and base.__contains__(target):
            root.remove(target)  # a flat copy written by another tool: move it under the fan-out
        by_fan.setdefault(target[:2], {})[target[2:]] = data
    for fan, notes in by_fan.items():
        sub_tree = None
        if base is not None and fan in base:
            obj = r[base[fan].id]
            sub_tree = obj if obj.type == ObjectType.TREE else None
        sub = r.TreeBuilder(sub_tree) if sub_tree is not None else r.TreeBuilder()
        for rest, data in notes.items():
            if sub_tree is not None and rest[:2] in sub_tree and r[sub_tree[rest[:2]].id].type == ObjectType.TREE:
                raise MvError("notes tree uses a deeper fan-out than 2/38",
                              "rewrite it with 'git notes --ref mv-promote' or report this")
            sub.insert(rest, r.create_blob(data), pygit2.enums.FileMode.BLOB)
        root.insert(fan, sub.write(), pygit2.enums.FileMode.TREE)
    return root.write()
