"""Artifacts recorded by URI (schema-2 version records, from GTO's virtual artifacts): what every
reader says about them, decided once. No I/O here.

Such an artifact lives outside the repository (`s3://…`, `gs://…`, `https://…`); the record holds
its URI and whatever digests GTO's annotation or DVC knew (`md5`, `sha256`), never bytes this tool
has read. So no command fetches it, `verify` cannot check it offline (reported, neither a failure
nor "ok"), and an eval cannot bind to bytes nobody here measured.
"""

from __future__ import annotations

import re
from typing import Any

URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

# the tier that needs every artifact's bytes at hand: a reproduction record compares them
RETRIEVABLE_TIERS = ("regulated",)


def is_uri(path: str) -> bool:
    """`s3://…`, `gs://…`, `https://…`: a location outside the repository, never a path in it."""
    return bool(URI_RE.match(path))


def digests_text(meta: dict[str, Any]) -> str:
    """`md5 0f0f…, sha256 abab…` for the digests a URI artifact carries, or `no digest`."""
    found = [f"{name} {meta[name]}" for name in ("sha256", "md5") if isinstance(meta.get(name), str)]
    return ", ".join(found) if found else "no digest"


def identity(meta: dict[str, Any]) -> str:
    """What `diff` compares for an artifact: its sha256, or for one recorded by URI what is known."""
    if "uri" not in meta:
        return str(meta.get("sha256", ""))
    return f"by URI, {digests_text(meta)}"


def described(path: str, meta: dict[str, Any]) -> str:
    """One line for `show`, `diff` and the import report."""
    return f"{path}: recorded by URI ({digests_text(meta)}); not fetchable offline"


def not_retrievable(path: str, meta: dict[str, Any]) -> str:
    """Why eval, rollback and reproduce cannot have its bytes (the words of a refusal)."""
    return f"{path} is not retrievable offline: recorded by URI ({digests_text(meta)})"


def not_verifiable(path: str, meta: dict[str, Any]) -> str:
    """What `verify` reports for it: not a failure (the record claims no bytes it holds), not ok."""
    return f"artifact {path} is not verifiable offline: recorded by URI ({digests_text(meta)})"


def tier_refusal(tier: str, uris: list[str]) -> str | None:
    """Why a version with artifacts recorded by URI cannot be registered in `tier`, or None."""
    if not uris or tier not in RETRIEVABLE_TIERS:
        return None
    return (f"the {tier} tier needs every artifact retrievable by digest (a reproduction compares its bytes), "
            f"but {', '.join(uris)} {'is' if len(uris) == 1 else 'are'} recorded by URI")


def bindable(digests: dict[str, str]) -> bool:
    """An eval or reproduction can bind to these digests only when every artifact has a sha256."""
    return all(digests.values())
