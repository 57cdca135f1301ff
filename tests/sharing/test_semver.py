"""Ordering behind version=latest (pure, no services)."""

import pytest
from hx_sharing.semver import newest, version_key


@pytest.mark.parametrize(
    "versions,expected",
    [
        (["1.2.0", "1.10.0", "1.9.9"], "1.10.0"),
        (["1.0.0", "1.0.0-rc.1", "1.0.0-beta"], "1.0.0"),
        (["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2", "1.0.0-beta.11"], "1.0.0-beta.11"),
        (["v1.2.3", "1.2.4"], "1.2.4"),
        (["2", "1.9", "10"], "10"),
        (["1.0.0+build.5", "1.0.0+build.1"], "1.0.0+build.5"),
        (["nightly", "0.0.1"], "0.0.1"),  # any semantic version beats free text
        (["build-9", "build-10"], "build-10"),  # free text: numeric runs compare as numbers
    ],
)
def test_newest(versions, expected):
    assert newest(versions) == expected


def test_prerelease_order_matches_semver_spec():
    chain = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
    ]
    assert sorted(reversed(chain), key=version_key) == chain


def test_empty():
    assert newest([]) is None
