"""register's duplicate-digest check and next version number, flat in a model's history.

A version must not repeat the artifact digests of an earlier version of its model. The record
cache indexes each version's digests by tag object id (RecordCache.put_digests), so a version's
record is read once. What still grew with history was finding the versions not indexed yet:
listing the model's refs, parsing each name, looking each one up. So the cache also remembers,
per model, the sha256 of the raw listing of its version refs (Repo.ref_listing) in a state where
every version in it was indexed, with that listing's latest version number. A register whose
listing hashes the same reads no version: one indexed query for its digests answers, and the
latest version is known. Any other listing (another writer's version, a fetch, a re-made tag, a
fresh cache) takes the full path, which indexes what is missing.

After the new tag is made, the listing it leaves is predicted (the same bytes with its line
inserted where git sorts it, by name bytewise) and remembered with the new version indexed. Only
those exact bytes ever hit, so a wrong prediction, or another writer's ref made meanwhile, costs
the full path once and never a missed duplicate. Without a record cache nothing is remembered
and every version is read, as before.
"""

from __future__ import annotations

import bisect
import hashlib
import json

from gitmv.errors import MvError, RefusedError
from gitmv.names import VERSION_REF_RE, model_versions_pattern, version_ref
from gitmv.registry import Registry
from gitmv.rules.refs import parse_ref_listing


class VersionListing:
    """The version refs of one model as `git for-each-ref` listed them, once, at the start of a
    register: the duplicate check and the next number both answer from the same bytes."""

    def __init__(self, reg: Registry, model: str) -> None:
        self.reg, self.model = reg, model
        self.raw = reg.repo.ref_listing(model_versions_pattern(model))
        self.sha = hashlib.sha256(self.raw).hexdigest()
        self.wanted: str | None = None  # the digest key checked (latest_refusing)

    def latest_refusing(self, digests: dict) -> str | None:
        """The model's latest version (None: it has none), after refusing `digests` if some version
        already has them: the newest such version is named."""
        wanted = digest_key({path: d["sha256"] for path, d in digests.items()})
        cache = self.reg.cache
        known = cache.indexed_listing(self.model) if cache is not None else None
        if cache is not None and known is not None and known[0] == self.sha:
            found = [v for v in (self._version_of(oid) for oid in cache.versions_with_digests(self.model, wanted)) if v]
            if found:
                self._refuse(max(found))
            self.wanted = wanted
            return f"v{known[1]}" if known[1] else None
        versions = self._versions()
        indexed = cache.digests_of(self.model) if cache is not None else {}
        for number, oid, ref in reversed(versions):
            key = indexed.get(oid)
            if key is None:
                try:
                    key = digest_key(self.reg.version_by_tag(oid, ref).digests)
                except MvError:
                    continue  # an unreadable version names no digests
                if cache is not None:
                    cache.put_digests(oid, self.model, key)
            if key == wanted:
                self._refuse(number)
        self.wanted = wanted
        return f"v{versions[-1][0]}" if versions else None

    def remember(self, version: str, tag_id: str) -> None:
        """After `version` was tagged as `tag_id` with the digests checked: index it, and remember the
        listing that tag leaves as one whose every version is indexed."""
        cache = self.reg.cache
        if cache is None or self.wanted is None:
            return
        ref = version_ref(self.model, version)
        lines = [line + b"\n" for line in self.raw.split(b"\n")[:-1]]
        bisect.insort(lines, f"{ref}\0{tag_id}\0\n".encode())  # "\0" sorts first: line order is name order
        cache.put_digests(tag_id, self.model, self.wanted)
        cache.put_indexed_listing(self.model, hashlib.sha256(b"".join(lines)).hexdigest(),
                                  int(version[1:]))

    def _versions(self) -> list[tuple[int, str, str]]:
        """(number, tag id, ref) of each version ref in the grammar, by number."""
        out = []
        for name, oid in parse_ref_listing(self.raw, 2):
            ref = name.decode("utf-8", "replace")
            m = VERSION_REF_RE.match(ref)
            if m and m.group(1) == self.model:
                out.append((int(m.group(2)), oid.decode("ascii"), ref))
        return sorted(out)

    def _version_of(self, oid: str) -> int | None:
        """The highest number of the version refs that list `oid` here, as the full path would name
        it (an indexed id this listing does not hold is no version of the model now)."""
        needle, found, at = b"\0" + oid.encode("ascii") + b"\0\n", None, 0
        while (at := self.raw.find(needle, at)) >= 0:
            m = VERSION_REF_RE.match(self.raw[self.raw.rfind(b"\n", 0, at) + 1:at].decode("utf-8", "replace"))
            if m and m.group(1) == self.model:
                found = max(found or 0, int(m.group(2)))
            at += len(needle)
        return found

    def _refuse(self, number: int) -> None:
        raise RefusedError(f"these artifact digests are already registered as {self.model} v{number}",
                           f"use {self.model} v{number}, or retrain to make a new version")


def digest_key(digests: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(digests, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
