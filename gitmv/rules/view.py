"""What the promotion rules may ask of the registry: a read-only view, as typing Protocols.

The rules decide from facts and never open a repository: `gitmv.registry.Registry` satisfies
`RegistryView` (over local refs, or over the server's refs with a push laid over them), and a
unit test satisfies it with a few dicts. Only types are imported from outside `rules/`, and only
for the checker; nothing here runs git.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Sequence, TypeVar

if TYPE_CHECKING:
    from gitmv.policy import Policy
    from gitmv.records import PromotionRecord, VersionRecord


class TagFacts(Protocol):
    """A tag object, as far as the rules look at it: its object id."""

    @property
    def id(self) -> str: ...


class VersionFacts(Protocol):
    """A registered version: its tag and its (parsed, canonical) version record."""

    @property
    def tag(self) -> TagFacts: ...

    @property
    def record(self) -> VersionRecord: ...

    @property
    def name(self) -> str: ...

    @property
    def digests(self) -> dict[str, str]: ...  # artifact path -> sha256


class StageFacts(Protocol):
    """One stage tag: its sequence number in the stage, its promotion record and its tagger time
    (epoch seconds; the checked time of the entry, which the soak measures with)."""

    @property
    def seq(self) -> int: ...

    @property
    def record(self) -> PromotionRecord: ...

    @property
    def tagger_time(self) -> int: ...


class SignatureFacts(Protocol):
    """A verified (or not) signature: ok with the principal, or the reason why not."""

    @property
    def ok(self) -> bool: ...

    @property
    def reason(self) -> str: ...

    @property
    def principal(self) -> str | None: ...

    @property
    def fingerprint(self) -> str | None: ...


# The view's own version type: what `version` returns is what the other questions take back.
V = TypeVar("V", bound=VersionFacts)


class RegistryView(Protocol[V]):
    """The questions the promotion and rollback verdicts ask. Evidence comes back already judged
    by the view (intact, bound to the version's digests, signed as the tier needs): which record
    counts is the view's rule (`rules.evidence`), what it implies for a stage is this package's."""

    @property
    def policy(self) -> Policy | None: ...

    def version(self, model: str, version: str) -> V:
        """The registered version; raises MvError (its `cause` is shown) when there is none."""
        ...

    def current(self, model: str, stage: str) -> StageFacts | None: ...

    def stage_history(self, model: str, stage: str) -> Sequence[StageFacts]: ...

    # `tag` is the `tag` of a version this view returned (each view has its own tag type).
    def signature(self, tag: Any) -> SignatureFacts: ...

    def record_signature(self, rec: dict[str, Any]) -> SignatureFacts: ...

    def deprecation(self, version: V) -> dict[str, Any] | None: ...

    def evals(self, version: V, suite: str | None) -> Sequence[dict[str, Any]]: ...

    def latest_eval(self, version: V, suite: str | None) -> dict[str, Any] | None: ...

    def records_of(self, target: str, kind: str) -> Sequence[dict[str, Any]]: ...

    def note_positions(self, target: str) -> dict[str, int]:
        """record id -> position in the notes history of `target`'s note (higher: introduced later)."""
        ...
