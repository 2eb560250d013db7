"""What every reader says about an artifact recorded by URI (gitmv/rules/artifacts.py), without a repo."""

from __future__ import annotations

import pytest

from gitmv.rules import artifacts

URI = "s3://models/fraud.pkl"


@pytest.mark.parametrize("path", ["s3://b/k", "gs://b/k", "https://example.com/m.pt", "hdfs://h/p"])
def test_a_scheme_followed_by_two_slashes_is_a_uri(path):
    assert artifacts.is_uri(path)


@pytest.mark.parametrize("path", ["model.bin", "models/s3:/x", "C:\\model.bin", "://x", "s3:/b/k"])
def test_a_repository_path_is_not_a_uri(path):
    assert not artifacts.is_uri(path)


def test_a_uri_artifact_is_described_with_the_digests_it_has():
    meta = {"uri": URI, "md5": "0f" * 16, "sha256": "ab" * 32}
    assert artifacts.described(URI, meta) == f"{URI}: recorded by URI (sha256 {'ab' * 32}, md5 {'0f' * 16}); not fetchable offline"


def test_a_uri_artifact_without_a_digest_says_so():
    assert artifacts.not_verifiable(URI, {"uri": URI}) == f"artifact {URI} is not verifiable offline: recorded by URI (no digest)"
    assert artifacts.not_retrievable(URI, {"uri": URI}) == f"{URI} is not retrievable offline: recorded by URI (no digest)"


def test_diff_identity_is_the_sha256_of_a_stored_artifact_and_what_is_known_of_a_uri_one():
    assert artifacts.identity({"sha256": "ab" * 32, "size": 3}) == "ab" * 32
    assert artifacts.identity({"uri": URI, "md5": "0f" * 16}) == f"by URI, md5 {'0f' * 16}"


@pytest.mark.parametrize("tier", ["research", "production"])
def test_uri_artifacts_are_allowed_below_the_regulated_tier(tier):
    assert artifacts.tier_refusal(tier, [URI]) is None


def test_the_regulated_tier_refuses_uri_artifacts_and_names_them():
    assert artifacts.tier_refusal("regulated", [URI]) == (
        "the regulated tier needs every artifact retrievable by digest (a reproduction compares its bytes), "
        f"but {URI} is recorded by URI")
    assert artifacts.tier_refusal("regulated", []) is None


def test_nothing_binds_to_digests_with_an_unknown_sha256():
    assert artifacts.bindable({"model.bin": "ab" * 32})
    assert not artifacts.bindable({"model.bin": "ab" * 32, URI: ""})
