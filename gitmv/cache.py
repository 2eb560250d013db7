"""A cache of parsed tag records keyed by tag object id, in a small SQLite file.

Derivable and self-validating: an object id names immutable content, so an entry can never go
stale, and deleting the file only costs a re-parse. It is never a source of truth: `verify` and
the server hook do not use it. SQLite gives keyed lookups whose cost does not grow with the
registry, and one transaction for all of a command's new entries (written when the process
exits). A locked or unwritable cache is skipped: it only makes a command slower.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import sqlite3
import weakref
from pathlib import Path

# v2: entries are records that passed the canonical-form check (v1 entries may not have)
CACHE_FILE = "mv-promote/records-v2.sqlite"
# Caches with unwritten entries; weak, so a cache (and its database handle) goes away with the
# registry that used it, flushing on the way out, and long-lived processes leak no descriptors.
_UNFLUSHED: "weakref.WeakSet[RecordCache]" = weakref.WeakSet()
_INHERITED: list[sqlite3.Connection] = []  # a forked child's copies of the parent's handles, kept open
_BATCH = 500  # keys per query (under SQLite's oldest limit of 999 parameters)


def encode(entry: dict) -> str:
    """An entry as the file stores it (and a helper hands it over: RecordCache.adopt)."""
    return json.dumps(entry, separators=(",", ":"))


@atexit.register
def _flush_all() -> None:
    for cache in list(_UNFLUSHED):
        cache.flush()


class RecordCache:
    def __init__(self, git_dir: Path, file: str = CACHE_FILE):
        self.path = Path(git_dir) / file
        self._db: sqlite3.Connection | None = None
        self._opened = False
        self._pending: dict[str, str] = {}
        self._pending_digests: dict[tuple[str, int, str], str] = {}  # (model, number, oid) -> digest key
        self._pending_listings: dict[str, tuple[str, int]] = {}
        self._fetched: dict[str, str | None] = {}  # entries read ahead by prefetch (None: not in the file)
        self._created = False  # the file did not exist until this process opened it (and has not written it)

    def _conn(self) -> sqlite3.Connection | None:
        if not self._opened:
            self._opened = True
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._created = not self.path.exists()
                db = sqlite3.connect(str(self.path), timeout=0.2, isolation_level=None)
                # derived data: a write lost or torn by an OS crash costs a parse, never a wrong
                # answer (an unreadable file is no cache), so no commit waits for the disk; with
                # fsync, a fresh clone's first listing paid 16 of them, 15-100 ms on this VM
                db.execute("PRAGMA synchronous = OFF")
                db.execute("CREATE TABLE IF NOT EXISTS records (oid TEXT PRIMARY KEY, entry TEXT NOT NULL)")
                # a version's artifact digests (a hash of them), by model, version number and tag
                # object: what register read from that tag under that very ref (the record names
                # the ref), so a ref aliasing another version's tag object is no hit
                # (gitmv.ops.known_digests). The first index, by tag object alone, is dropped, and
                # with it the listings remembered over it.
                db.execute("DROP TABLE IF EXISTS digests")
                db.execute("DROP TABLE IF EXISTS listings")
                db.execute("CREATE TABLE IF NOT EXISTS version_digests (model TEXT NOT NULL, number INTEGER NOT NULL, "
                           "oid TEXT NOT NULL, dkey TEXT NOT NULL, PRIMARY KEY (model, number, oid))")
                db.execute("CREATE INDEX IF NOT EXISTS version_digests_key ON version_digests (model, dkey)")
                # per model, the sha256 of a listing of its version refs (Repo.ref_listing) in which
                # every version had its row above, and that listing's latest version number (0:
                # none): register without reading the versions (gitmv.ops.known_digests)
                db.execute("CREATE TABLE IF NOT EXISTS version_listings (model TEXT PRIMARY KEY, sha TEXT NOT NULL, "
                           "latest INTEGER NOT NULL)")
                self._db = db
            except (OSError, sqlite3.Error):
                self._db = None
        return self._db

    def get(self, oid: str) -> dict | None:
        if oid in self._pending:
            return json.loads(self._pending[oid])
        text = self._fetched.get(oid)
        if text is None:
            if oid in self._fetched:
                return None  # looked up by prefetch: not in the file
            db = self._conn()
            if db is None or self._created:
                return None  # no file, or one this process created: nothing in it yet
            try:
                row = db.execute("SELECT entry FROM records WHERE oid = ?", (oid,)).fetchone()
            except sqlite3.Error:
                return None
            if row is None:
                return None
            text = row[0]
        try:
            entry = json.loads(text)
        except (ValueError, TypeError):
            return None
        return entry if isinstance(entry, dict) else None

    def prefetch(self, keys: list[str]) -> None:
        """Read the entries of `keys` in a few queries, so that a listing's get() per version
        costs no query of its own. What it found, or found missing, is kept for this cache's life."""
        wanted = [k for k in dict.fromkeys(keys) if k not in self._fetched and k not in self._pending]
        db = self._conn() if wanted else None
        if db is None:
            return
        if self._created:  # a file this process created holds nothing yet
            self._fetched.update(dict.fromkeys(wanted))
            return
        try:
            for i in range(0, len(wanted), _BATCH):
                chunk = wanted[i:i + _BATCH]
                marks = ",".join("?" * len(chunk))
                found = dict(db.execute(f"SELECT oid, entry FROM records WHERE oid IN ({marks})", chunk))
                self._fetched.update((k, found.get(k)) for k in chunk)
        except sqlite3.Error:
            pass  # entries not read ahead are read one by one

    def _rows(self, sql: str, args: tuple) -> list | None:
        """The rows of one query; [] from a file this process created (nothing in it yet), None
        when there is no file to read or the query failed (busy, damaged): not "no rows"."""
        db = self._conn()
        if db is None:
            return None
        if self._created:
            return []
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.Error:
            return None

    def digests_of(self, model: str) -> dict[tuple[int, str], str]:
        """{(version number, tag object id): digest key} of the versions of `model` indexed so far
        (those put here included; a file that cannot be read holds none)."""
        rows = self._rows("SELECT number, oid, dkey FROM version_digests WHERE model = ?", (model,)) or []
        found = {(n, oid): dkey for (m, n, oid), dkey in self._pending_digests.items() if m == model}
        return {**{(int(n), str(o)): str(k) for n, o, k in rows}, **found}

    def put_digests(self, model: str, number: int, oid: str, dkey: str) -> None:
        """Index a version read and checked under refs/tags/mv/<model>/v<number> as tag `oid`."""
        _UNFLUSHED.add(self)
        self._pending_digests[(model, number, oid)] = dkey

    def versions_with_digests(self, model: str, dkey: str) -> list[tuple[int, str]] | None:
        """(version number, tag object id) of the indexed versions of `model` whose digest key is
        `dkey`, in one indexed query whatever the number of versions; None when the file could
        not be read (not "none has them")."""
        rows = self._rows("SELECT number, oid FROM version_digests WHERE model = ? AND dkey = ?", (model, dkey))
        if rows is None:
            return None
        found = [(n, oid) for (m, n, oid), k in self._pending_digests.items() if (m, k) == (model, dkey)]
        return [(int(n), str(o)) for n, o in rows] + found

    def indexed_listing(self, model: str) -> tuple[str, int] | None:
        """(sha256 of a version listing of `model` whose every version is indexed, its latest
        version number), the last one remembered; None when there is none (or it cannot be read)."""
        if model in self._pending_listings:
            return self._pending_listings[model]
        rows = self._rows("SELECT sha, latest FROM version_listings WHERE model = ?", (model,))
        return (str(rows[0][0]), int(rows[0][1])) if rows else None

    def put_indexed_listing(self, model: str, sha: str, latest: int) -> None:
        """Remember a listing of `model` whose every version is indexed. Written in the same
        transaction as the digest rows put before it, so the file never claims a listing indexed
        without them."""
        _UNFLUSHED.add(self)
        self._pending_listings[model] = (sha, latest)

    def put(self, oid: str, record: dict) -> None:
        _UNFLUSHED.add(self)
        self._pending[oid] = encode(record)

    def fresh(self) -> bool:
        """Whether this process created the file (a fresh clone's first read, or one after the
        cache was deleted): then it holds nothing this process has not put, and a caller need
        not look up what is in it before deciding what to read."""
        return self._conn() is not None and self._created

    def known(self, key: str) -> bool:
        """Whether `key` has an entry this process has put or read ahead (no query)."""
        return key in self._pending or self._fetched.get(key) is not None

    def text(self, key: str) -> str | None:
        """The entry under `key` as stored, among those put or read ahead (a helper hands it on)."""
        return self._pending.get(key) or self._fetched.get(key)

    def adopt(self, key: str, text: str) -> None:
        """Take an entry a forked helper of this process made (gitmv.ahead), as if put here."""
        _UNFLUSHED.add(self)
        self._pending[key] = text

    def detach(self) -> None:
        """In a forked child: never touch the parent's database handle (not even to close it);
        the child reads only what was read ahead and writes nothing (it hands its entries on)."""
        _UNFLUSHED.discard(self)
        if self._db is not None:
            _INHERITED.append(self._db)
        self._db, self._opened = None, True

    def flush(self) -> None:
        """Write pending entries in one transaction and close the database."""
        pending, self._pending = self._pending, {}
        digests, self._pending_digests = self._pending_digests, {}
        listings, self._pending_listings = self._pending_listings, {}
        _UNFLUSHED.discard(self)
        db = self._conn() if pending or digests or listings else self._db
        try:
            if (pending or digests or listings) and db is not None:
                with db:
                    db.execute("BEGIN")
                    db.executemany("INSERT OR IGNORE INTO records (oid, entry) VALUES (?, ?)", pending.items())
                    db.executemany("INSERT OR IGNORE INTO version_digests (model, number, oid, dkey) VALUES (?, ?, ?, ?)",
                                   [(m, n, oid, k) for (m, n, oid), k in digests.items()])
                    db.executemany("INSERT OR REPLACE INTO version_listings (model, sha, latest) VALUES (?, ?, ?)",
                                   [(m, sha, n) for m, (sha, n) in listings.items()])
        except sqlite3.Error:
            pass  # busy or read-only: the entries are simply parsed again next time
        finally:
            if db is not None:
                db.close()
            self._db, self._opened, self._created = None, False, False

    def __del__(self) -> None:
        try:
            self.flush()
        except Exception:  # interpreter shutdown: nothing left to do
            pass


# verify's own file: what it has established, never mixed with what reads cached
VERDICT_FILE = "mv-promote/verified-v1.sqlite"


class VerdictCache(RecordCache):
    """What `verify` established, so an incremental verify checks only new objects: records that
    passed the canonical-form and shape checks (by tag object id, or note content hash), signature
    verdicts (Registry.verdict_key: the object and the exact allowed signers), notes whose
    every record passed (content hash, allowed signers, tier rule) and artifact blobs whose digest
    matched (by blob id). Every key names immutable content, so a changed
    object is a new key, checked again. Only successes are stored: a failure is checked and
    reported on every run. Each entry carries a hash of its key and content, and one that does
    not match (a damaged file, an entry copied to another key) is ignored, never trusted; an
    unreadable file is no cache at all. Never used by the server hook.
    """

    def __init__(self, git_dir: Path):
        super().__init__(git_dir, VERDICT_FILE)
        self._all: dict[str, str] | None = None

    def _entries(self) -> dict[str, str]:
        """Every entry, read in one query: verify asks for nearly all of them."""
        if self._all is None:
            db = self._conn()
            try:
                self._all = dict(db.execute("SELECT oid, entry FROM records").fetchall()) if db is not None else {}
            except sqlite3.Error:
                self._all = {}
        return self._all

    def get(self, oid: str) -> dict | None:
        text = self._pending.get(oid) or self._entries().get(oid)
        try:
            entry = json.loads(text) if text else None
            if not isinstance(entry, dict):
                return None
            body_text = entry.get("body")
            if not isinstance(body_text, str) or entry.get("sum") != _entry_sum(oid, body_text):
                return None
            body = json.loads(body_text)
        except (ValueError, TypeError):
            return None
        return body if isinstance(body, dict) and _success(oid, body) else None

    def adopt(self, key: str, text: str) -> None:
        """A helper's entry, checked and wrapped as `put` does (verify's own file)."""
        self.put(key, json.loads(text))

    def put(self, oid: str, record: dict) -> None:
        if _success(oid, record):
            body_text = encode(record)
            super().put(oid, {"body": body_text, "sum": _entry_sum(oid, body_text)})


def _success(key: str, body: dict) -> bool:
    return body.get("ok") is True if key.startswith("sig:") else True


def _entry_sum(key: str, body_text: str) -> str:
    return hashlib.sha256(f"{key}\0{body_text}".encode()).hexdigest()
