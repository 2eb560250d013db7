"""The registry's ref namespace and ref-name grammar, judged on bytes; hook input framing.

Git allows nearly any byte in a ref name (not ASCII controls, space, `~^:?*[\\`, `..`, `@{`):
bytes that are not UTF-8, and characters that Python's `str.splitlines()`/`str.split()` treat as
separators (U+0085, U+2028, U+2029). So names are never decoded before they are judged: the
namespace test and the grammar work on bytes, and input is split only where Git itself frames it
(LF between lines, one SP between fields, NUL in `for-each-ref` output).

The namespace is everything whose name could interfere with the registry: `refs/tags/mv` itself
(as a ref it blocks every `refs/tags/mv/...` by a directory/file conflict), everything under
`refs/tags/mv/`, and every ref whose name starts with `refs/notes/mv-promote` (`.../x` blocks the
notes ref; `mv-promote2` and the like are look-alikes). Inside it only the exact grammar is
accepted: the tags, the evidence notes ref and the attestation notes ref
`refs/notes/mv-promote-attestations`. Pure functions, no I/O: the server hook, pre-push and the ref listings all call these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from gitmv.names import ATTESTATIONS_REF, NOTES_REF, STAGE_REF_RE, TAG_DIR, TAG_ROOT, VERSION_REF_RE

_TAG_DIR_B = TAG_DIR.encode()
_TAG_ROOT_B = TAG_ROOT.encode()
_NOTES_B = NOTES_REF.encode()
_ATTEST_B = ATTESTATIONS_REF.encode()

_VERSION_B = re.compile(VERSION_REF_RE.pattern.encode("ascii"))
_STAGE_B = re.compile(STAGE_REF_RE.pattern.encode("ascii"))
_HEX_B = re.compile(rb"\A(?:[0-9a-f]{40}|[0-9a-f]{64})\Z")

RULE_NAME = "R3 valid-ref-name"
GRAMMAR = ("refs/tags/mv/<model>/v<N>, refs/tags/mv/<model>/<stage>/<seq>, refs/notes/mv-promote or "
           "refs/notes/mv-promote-attestations; "
           "model and stage [a-z0-9][a-z0-9_-]{0,63}, a stage not v<digits>, N and seq 1-999999999")


@dataclass(frozen=True)
class RegistryRef:
    """A ref name in the registry grammar (always ASCII, so `name` is an exact str)."""

    name: str
    kind: str  # "version" | "stage" | "notes" | "attestations"
    model: str | None = None
    version: str | None = None  # "v<N>" for a version ref
    stage: str | None = None
    seq: int | None = None


def to_bytes(name: str | bytes) -> bytes:
    """A ref name as Git's bytes; a str made by `to_text` round-trips exactly."""
    return name if isinstance(name, bytes) else name.encode("utf-8", "surrogateescape")


def to_text(name: bytes) -> str:
    """A lossless str for a ref name of any bytes (non-UTF-8 bytes become surrogates)."""
    return name.decode("utf-8", "surrogateescape")


def display(name: str | bytes) -> str:
    """Printable ASCII for messages: anything else escaped, so a name cannot forge a line or hide."""
    raw = to_bytes(name)
    return "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\x{b:02x}" for b in raw)


def in_namespace(name: str | bytes) -> bool:
    """Is this ref the registry's business (tags under refs/tags/mv, anything refs/notes/mv-promote*)?"""
    raw = to_bytes(name)
    return raw == _TAG_DIR_B or raw.startswith(_TAG_ROOT_B) or raw.startswith(_NOTES_B)


def parse(name: str | bytes) -> RegistryRef | None:
    """The registry ref this name is, or None when it is not in the grammar (exactly)."""
    raw = to_bytes(name)
    if raw == _NOTES_B:
        return RegistryRef(NOTES_REF, "notes")
    if raw == _ATTEST_B:
        return RegistryRef(ATTESTATIONS_REF, "attestations")
    m = _VERSION_B.match(raw)
    if m:
        return RegistryRef(raw.decode("ascii"), "version", model=m.group(1).decode("ascii"),
                           version="v" + m.group(2).decode("ascii"))
    m = _STAGE_B.match(raw)
    if m:
        return RegistryRef(raw.decode("ascii"), "stage", model=m.group(1).decode("ascii"),
                           stage=m.group(2).decode("ascii"), seq=int(m.group(3)))
    return None


def name_refusal(name: str | bytes) -> str | None:
    """Why creating, moving or deleting this ref is refused by its name alone, or None.

    None for every name outside the namespace (not ours to judge) and for every name in the grammar.
    """
    raw = to_bytes(name)
    if not in_namespace(raw) or parse(raw) is not None:
        return None
    if raw == _TAG_DIR_B:
        return "a ref named refs/tags/mv would block the whole registry namespace (directory/file conflict)"
    if raw.startswith(_NOTES_B + b"/"):
        return "a ref below refs/notes/mv-promote would block the evidence notes ref (directory/file conflict)"
    if raw.startswith(_NOTES_B):
        return "a look-alike of the evidence notes ref refs/notes/mv-promote in the registry namespace"
    return f"not a registry ref name ({GRAMMAR})"


# ---------------------------------------------------------------- hook input

class HookInputError(ValueError):
    """Input a hook cannot read exactly; the hook refuses the push rather than guess."""


def _is_oid(field: bytes) -> bool:
    return bool(_HEX_B.match(field))


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Non-empty lines, split on LF only. An empty line carries no update, so skipping it cannot
    hide a ref (the chaining shim replays stdin through `$(cat)`, which turns no input into one LF)."""
    for number, line in enumerate(data.split(b"\n"), 1):
        if line:
            yield number, line


def parse_pre_receive(data: bytes) -> list[tuple[str, str, bytes]]:
    """`<old> SP <new> SP <ref> LF` lines -> (old, new, ref bytes). Anything else raises HookInputError."""
    out = []
    for number, line in _lines(data):
        fields = line.split(b" ")
        if len(fields) != 3 or not fields[2]:
            raise HookInputError(f"pre-receive input line {number} has {len(fields)} fields, not "
                                 f"'<old> <new> <ref>': {display(line)}")
        old, new, ref = fields
        if not (_is_oid(old) and _is_oid(new)):
            raise HookInputError(f"pre-receive input line {number} has an object id that is not hex: {display(line)}")
        out.append((old.decode("ascii"), new.decode("ascii"), ref))
    return out


def parse_pre_push(data: bytes) -> list[tuple[bytes, str, bytes, str]]:
    """`<local ref> SP <local oid> SP <remote ref> SP <remote oid> LF` -> (local, oid, remote ref, oid).

    The three last fields are split from the right: the local side is whatever the user typed
    (`git push origin 'HEAD^{/fix it}:refs/heads/x'` gives a local "ref" with a space), and it is
    display only; the remote ref, which is judged, cannot contain a space.
    """
    out = []
    for number, line in _lines(data):
        fields = line.rsplit(b" ", 3)
        if len(fields) != 4 or not fields[0] or not fields[2]:
            raise HookInputError(f"pre-push input line {number} has {len(fields)} fields, not "
                                 f"'<local ref> <local oid> <remote ref> <remote oid>': {display(line)}")
        local, local_oid, remote, remote_oid = fields
        if not (_is_oid(local_oid) and _is_oid(remote_oid)):
            raise HookInputError(f"pre-push input line {number} has an object id that is not hex: {display(line)}")
        out.append((local, local_oid.decode("ascii"), remote, remote_oid.decode("ascii")))
    return out


# ---------------------------------------------------------------- ref listings

def parse_ref_listing(data: bytes, nfields: int, sized: bool = False) -> list[tuple[bytes, ...]]:
    """`git for-each-ref --format=<f1>%00...%00<fn>%00` output -> tuples of n byte fields.

    Each record is n NUL-terminated fields followed by the LF git adds; names, object ids and
    types cannot contain NUL or LF, so the framing is exact. With `sized`, the n-th field is a
    byte count (`%(contents:size)`) and that many bytes (`%(contents)`) follow it before the LF,
    so free text is framed by its length and no message can forge or hide a record; the tuple
    then holds n-1 fields and the text. Output that does not frame exactly raises ValueError.
    """
    if not sized:
        return _parse_unsized(data, nfields)
    out = []
    pos, end = 0, len(data)
    while pos < end:
        fields = []
        for _ in range(nfields):
            nul = data.find(b"\x00", pos)
            if nul < 0:
                raise ValueError("for-each-ref output is not NUL-framed")
            fields.append(data[pos:nul])
            pos = nul + 1
        if sized:
            size = fields.pop()
            if not size.isdigit():
                raise ValueError("for-each-ref output has no size where one belongs")
            text = data[pos:pos + int(size)]
            if len(text) != int(size):
                raise ValueError("for-each-ref output ends inside a record")
            fields.append(text)
            pos += len(text)
        if data[pos:pos + 1] != b"\n":
            raise ValueError("for-each-ref output is not NUL-framed")
        pos += 1
        out.append(tuple(fields))
    return out


def _parse_unsized(data: bytes, nfields: int) -> list[tuple[bytes, ...]]:
    """The same framing split in bulk (a listing of a model's 5,000 versions is read by every
    `register`): with no free text, every record is n NUL-ended fields and an LF, and no field
    holds either byte, so the LFs count the records."""
    if not data:
        return []
    records = data[:-2].split(b"\x00\n") if data.endswith(b"\x00\n") else None
    if records is None or data.count(b"\n") != len(records):
        raise ValueError("for-each-ref output is not NUL-framed")
    out = [tuple(record.split(b"\x00")) for record in records]
    if any(len(fields) != nfields for fields in out):
        raise ValueError("for-each-ref output is not NUL-framed")
    return out


def parse_ls_remote(data: bytes) -> list[tuple[bytes, str]]:
    """`git ls-remote` output (`<oid> TAB <ref> LF`) -> (ref bytes, oid); peeled `^{}` lines dropped.

    Split on LF and the first TAB only: a ref name cannot contain either, but it can contain
    U+2028 and friends, which `str.splitlines()` would split on.
    """
    out = []
    for line in data.split(b"\n"):
        if not line:
            continue
        oid, tab, ref = line.partition(b"\t")
        if not tab or not _is_oid(oid) or not ref:
            raise ValueError(f"unreadable ls-remote line: {display(line)}")
        if ref.endswith(b"^{}"):
            continue
        out.append((ref, oid.decode("ascii")))
    return out
