"""The one grammar of names and refs: models, stages, versions, and the refs that hold them.

Every module that builds or reads a registry ref name takes it from here, so the client, the
server hook and `verify` cannot disagree about what a name is. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gitmv.errors import UsageError

NAME_PATTERN = r"[a-z0-9][a-z0-9_-]{0,63}"
NUM_PATTERN = r"[1-9][0-9]{0,8}"
NAME_RULE = "[a-z0-9][a-z0-9_-]{0,63}: lower case, digits, '_' and '-', no dots or slashes"
VERSION_RULE = "'v' and a number from 1: v1, v2, …"

NAME_RE = re.compile(rf"^{NAME_PATTERN}$")
VERSION_RE = re.compile(rf"^v({NUM_PATTERN})$")
# What is meant as a version even where it is not one (`2`, `V2`, `v02`): no experiment may have
# such a name, so it is always reported as a malformed version, never as an unknown experiment.
VERSION_SHAPED_RE = re.compile(r"^[vV]?[0-9]+$")

TAG_DIR = "refs/tags/mv"
TAG_ROOT = TAG_DIR + "/"
NOTES_REF = "refs/notes/mv-promote"
# Signed in-toto attestations (`attest --store`), apart from the evidence the gate reads: old
# clients never parse them, and a note there may hold only attestation records.
ATTESTATIONS_REF = "refs/notes/mv-promote-attestations"
EXP_ROOT = "refs/mv-exp/"
# A one-star pattern rather than the exact ref: an exact source that the remote lacks (no notes
# pushed yet) makes every plain `git fetch` fail; the pattern maps the same ref and matches
# nothing silently until the notes exist.
NOTES_FETCH_REFSPEC = "+refs/notes/mv-promote*:refs/notes/remotes/{remote}/mv-promote*"

# `\Z`, not `$`: `$` also matches before a trailing newline. A stage that looks like a version
# (`v<digits>`) is outside the grammar: `mv/<model>/v1/<seq>` would block the version tag `v1`.
VERSION_REF_RE = re.compile(rf"^refs/tags/mv/({NAME_PATTERN})/v({NUM_PATTERN})\Z")
STAGE_REF_RE = re.compile(rf"^refs/tags/mv/({NAME_PATTERN})/(?!v[0-9]+/)({NAME_PATTERN})/({NUM_PATTERN})\Z")
EXPERIMENT_REF_RE = re.compile(rf"^refs/mv-exp/({NAME_PATTERN})/({NAME_PATTERN})\Z")


def version_tag_name(model: str, version: str) -> str:
    """The tag name (under refs/tags/) of a version: `mv/<model>/v<N>`."""
    return f"{TAG_ROOT[len('refs/tags/'):]}{model}/{version}"


def stage_tag_name(model: str, stage: str, seq: int) -> str:
    """The tag name (under refs/tags/) of a stage entry: `mv/<model>/<stage>/<seq>`."""
    return f"{TAG_ROOT[len('refs/tags/'):]}{model}/{stage}/{seq}"


def version_ref(model: str, version: str) -> str:
    return "refs/tags/" + version_tag_name(model, version)


def stage_ref(model: str, stage: str, seq: int) -> str:
    return "refs/tags/" + stage_tag_name(model, stage, seq)


def model_tags_prefix(model: str) -> str:
    """Every tag of one model (its versions and stage entries) starts with this."""
    return f"{TAG_ROOT}{model}/"


def model_versions_pattern(model: str) -> str:
    """A `git for-each-ref` pattern that lists every version ref of one model (and any other ref
    under it starting with "v": git's pattern `*` also matches "/", so callers filter by grammar)."""
    return f"{TAG_ROOT}{model}/v*"


def tracking_notes_ref(remote: str) -> str:
    """Where a remote's evidence notes are fetched to (by `sync`, and by NOTES_FETCH_REFSPEC)."""
    return f"refs/notes/remotes/{remote}/mv-promote"


def tracking_attestations_ref(remote: str) -> str:
    """Where a remote's attestation notes are fetched to (the NOTES_FETCH_REFSPEC pattern maps it so)."""
    return f"refs/notes/remotes/{remote}/mv-promote-attestations"


def experiment_ref(model: str, exp_id: str) -> str:
    return f"{EXP_ROOT}{model}/{exp_id}"


def version_number(version: str) -> int:
    """N of `vN`; ValueError for anything else (callers turn it into their own typed error)."""
    m = VERSION_RE.match(version)
    if not m:
        raise ValueError(f"not a version name: {version!r}")
    return int(m.group(1))


def next_version(latest: str | None) -> str:
    """The version after `latest` (v1 for a model with none): the one place numbers are allocated."""
    return f"v{version_number(latest) + 1}" if latest else "v1"


def check_model_name(model: str) -> str:
    """The model name, or UsageError (exit 2) naming the grammar: the same message everywhere."""
    if not NAME_RE.fullmatch(model):  # fullmatch: `$` alone would let a trailing newline through
        raise UsageError(f"invalid model name '{model}'", f"model names are {NAME_RULE}")
    return model


STAGE_RULE = f"{NAME_RULE}, and not v<digits> (that names a version)"


def is_stage_name(name: str) -> bool:
    """The policy's stage grammar: a name that does not look like a version (see STAGE_REF_RE)."""
    return bool(NAME_RE.fullmatch(name)) and not re.fullmatch(r"v[0-9]+", name)


def check_version_name(version: str) -> str:
    """The version name `vN`, or UsageError (exit 2): the same message from every command."""
    if not VERSION_RE.fullmatch(version):
        raise UsageError(f"invalid version name '{version}'", f"versions are {VERSION_RULE}")
    return version


def check_stage_name(stage: str) -> str:
    """The stage name, or UsageError (exit 2). Whether the policy has that stage is the
    operation's question (exit 1): a well-formed name can still be unknown."""
    if not is_stage_name(stage):
        raise UsageError(f"invalid stage name '{stage}'", f"stage names are {STAGE_RULE}")
    return stage


def check_names(model: str, *versions: str | None) -> None:
    """check_model_name, then check_version_name for each version given (None: not given): what
    every operation that takes a model does first."""
    check_model_name(model)
    for version in versions:
        if version is not None:
            check_version_name(version)


REFERENCE_RULE = "MODEL@STAGE or MODEL@vN, e.g. churn@production or churn@v7"


def parse_reference(text: str) -> tuple[str, str | None, str | None]:
    """(model, stage, version) of `MODEL@STAGE` or `MODEL@vN` (exactly one of stage and version
    set), or UsageError naming the grammar. What `get` and `gitmv.api.resolve` take."""
    model, at, name = text.partition("@")
    if not at or not model or not name or "@" in name:
        raise UsageError(f"invalid reference '{text}'", f"references are {REFERENCE_RULE}")
    check_model_name(model)
    if VERSION_SHAPED_RE.fullmatch(name):
        return model, None, check_version_name(name)
    return model, check_stage_name(name), None


def is_experiment_name(name: str) -> bool:
    return bool(NAME_RE.fullmatch(name)) and not VERSION_SHAPED_RE.fullmatch(name)


def check_version_or_experiment(name: str) -> str:
    """A version name or a name an experiment may have; else check_version_name's UsageError."""
    if VERSION_RE.fullmatch(name) or is_experiment_name(name):
        return name
    raise UsageError(f"invalid version name '{name}'", f"versions are {VERSION_RULE}; experiments are {NAME_RULE}")


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name a typo most likely meant ("frud" -> "fraud"), or None when none is close."""
    import difflib  # only on an error path: keeps the hook's fast path light

    found = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return found[0] if found else None
