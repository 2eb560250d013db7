"""register's duplicate-digest check and next version number, flat in a model's history.

A version must not repeat the artifact digests of an earlier version of its model. The record
cache indexes each version's digests (RecordCache.put_digests) under what was read: the model,
the version number of the ref and the tag object, after the record was checked to name that very
ref. So a version is read once, and a ref aliasing another version's tag object is never taken
for it. What still grew with history was finding the versions not indexed yet: listing the
model's refs, parsing each name, looking each one up. So the cache also remembers, per model, the
sha256 of the raw listing of its version refs (Repo.ref_listing) in a state where every version in
it was indexed, with that listing's latest version number. A register whose listing hashes the
same reads no version: one indexed query for its digests answers (each row found counts only if
this listing holds its exact ref and tag object), and the latest version is known. Any other
listing (another writer's version, a fetch, a re-made tag, a fresh cache) takes the full path,
which indexes what is missing; a listing with a version that could not be read is not
remembered, so that version is tried again next time; a cache that cannot be read at the moment
of the query takes the full path too.

After the new tag is made, the listing it leaves is predicted (the same bytes with its line
inserted where git sorts it, by name bytewise) and remembered, with the new version indexed as
read back from its tag. Only those exact bytes ever hit, so a wrong prediction, or another
writer's ref made meanwhile, costs the full path once and never a missed duplicate. Without a
record cache nothing is remembered and every version is read, as before.
"""

from __future__ import annotations

import bisect
import hashlib
import json

from gitmv.errors import MvError, RefusedError
from gitmv.names import VERSION_REF_RE, model_versions_pattern, next_version, version_ref
from gitmv.registry import Registry
from gitmv.rules.refs import parse_ref_listing


class VersionListing:
    """The version refs of one model as `git for-each-ref` listed them, read at the start of a
    register (and again when another writer took the number it tried): the duplicate check and
    the next number both answer from the same bytes."""

    def __init__(self, reg: Registry, model: str, digests: dict) -> None:
        self.reg, self.model = reg, model
        self.wanted = digest_key({path: d["sha256"] for path, d in digests.items()})
        self.raw = b""
        self.complete = False  # every version of `raw` is indexed (then it may be remembered)

    def latest_refusing(self) -> str | None:
        """The model's latest version (None: it has none), read now, after refusing the digests
        if some version already has them: the newest such version is named."""
        self.raw = self.reg.repo.ref_listing(model_versions_pattern(self.model))
        self.complete = False
        cache = self.reg.cache
        known = cache.indexed_listing(self.model) if cache is not None else None
        if cache is not None and known is not None and known[0] == hashlib.sha256(self.raw).hexdigest():
            rows = cache.versions_with_digests(self.model, self.wanted)
            if rows is not None:
                found = [number for number, oid in rows if self._holds(number, oid)]
                if found:
                    self._refuse(max(found))
                self.complete = True
                return f"v{known[1]}" if known[1] else None
        return self._read_all()

    def after_conflict(self, taken: str) -> str:
        """The number to try after `taken` was found taken by another writer: the listing read
        again, and its new versions checked too (they may hold these very digests)."""
        latest = self.latest_refusing()
        return max(next_version(latest), next_version(taken), key=lambda v: int(v[1:]))

    def remember(self, version: str, tag_id: str) -> None:
        """After `version` was tagged as `tag_id`: index it as read back from that tag, and
        remember the listing it leaves as one whose every version is indexed."""
        cache = self.reg.cache
        if cache is None or not self.complete:
            return
        ref = version_ref(self.model, version)
        try:
            if digest_key(self.reg.version_by_tag(tag_id, ref).digests) != self.wanted:
                return  # not the tag this register made (re-made meanwhile): nothing to claim
        except MvError:
            return
        lines = [line + b"\n" for line in self.raw.split(b"\n")[:-1]]
        bisect.insort(lines, self._line(ref, tag_id))  # "\0" sorts first: line order is name order
        cache.put_digests(self.model, int(version[1:]), tag_id, self.wanted)
        cache.put_indexed_listing(self.model, hashlib.sha256(b"".join(lines)).hexdigest(), int(version[1:]))

    def _read_all(self) -> str | None:
        """The full path: every version of the listing, from the index or read and indexed."""
        cache = self.reg.cache
        versions = []
        for name, tag in parse_ref_listing(self.raw, 2):
            ref = name.decode("utf-8", "replace")
            m = VERSION_REF_RE.match(ref)
            if m and m.group(1) == self.model:
                versions.append((int(m.group(2)), tag.decode("ascii"), ref))
        versions.sort()
        indexed = cache.digests_of(self.model) if cache is not None else {}
        complete = True
        for number, oid, ref in reversed(versions):
            key = indexed.get((number, oid))
            if key is None:
                try:
                    key = digest_key(self.reg.version_by_tag(oid, ref).digests)
                except MvError:
                    complete = False  # unreadable now (or no version of this ref): tried again next time
                    continue
                if cache is not None:
                    cache.put_digests(self.model, number, oid, key)
            if key == self.wanted:
                self._refuse(number)
        self.complete = complete
        return f"v{versions[-1][0]}" if versions else None

    def _holds(self, number: int, oid: str) -> bool:
        """Whether this listing has version `number` of the model as tag `oid`."""
        line = self._line(version_ref(self.model, f"v{number}"), oid)
        return self.raw.startswith(line) or b"\n" + line in self.raw

    @staticmethod
    def _line(ref: str, oid: str) -> bytes:
        return f"{ref}\0{oid}\0\n".encode()

    def _refuse(self, number: int) -> None:
        raise RefusedError(f"these artifact digests are already registered as {self.model} v{number}",
                           f"use {self.model} v{number}, or retrain to make a new version")


def digest_key(digests: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(digests, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
