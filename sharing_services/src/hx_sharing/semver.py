"""Ordering of version strings so that ``latest`` means the newest version.

Semantic versions (with an optional leading ``v``) are ordered by SemVer 2.0 precedence:
numeric core, then pre-releases before the release, pre-release identifiers compared
numerically when numeric; build metadata ignored. Versions that are not semantic sort
before every semantic one, by their numeric runs (``1.10`` after ``1.9``) and then as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_SEMVER = re.compile(
    r"^[vV]?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
# Short forms people use for models: 1, 1.2, v3 (treated as 1.0.0, 1.2.0, 3.0.0).
_SHORT = re.compile(r"^[vV]?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?$")


def _pre_key(pre: str | None) -> tuple:
    if pre is None:
        return (1,)  # a release sorts after all of its pre-releases
    parts = []
    for ident in pre.split("."):
        if ident.isdigit():
            parts.append((0, int(ident), ""))
        else:
            parts.append((1, 0, ident))
    return (0, tuple(parts))


def version_key(version: str) -> tuple:
    m = _SEMVER.match(version)
    if m:
        return (1, (int(m[1]), int(m[2]), int(m[3])), _pre_key(m[4]), version)
    m = _SHORT.match(version)
    if m:
        return (1, (int(m[1]), int(m[2] or 0), 0), _pre_key(None), version)
    chunks = tuple((0, int(c), "") if c.isdigit() else (1, 0, c) for c in re.findall(r"\d+|\D+", version))
    return (0, chunks, version)


def is_semver(version: str) -> bool:
    return bool(_SEMVER.match(version) or _SHORT.match(version))


def newest(versions: Iterable[str]) -> str | None:
    best = None
    for v in versions:
        if best is None or version_key(v) > version_key(best):
            best = v
    return best
