"""docs/metrics.md, the one list of logged metrics, read as key patterns at run time.

A table row's first cell lists keys: full keys, suffix shorthands (``_mean`` / ``/max`` after a full key replace
its last ``_``- or ``/``-part), ``*`` for any rest of a key and ``<name>`` for one segment. The dashboard
(erpo.analysis.dashboard) takes every panel key through :func:`require_documented`, so a metric renamed in the
code and the list, but not in the dashboard, fails there instead of leaving an empty panel.
"""

from __future__ import annotations

import re
from pathlib import Path

from erpo.errors import InputError

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def _cell_keys(cell: str) -> list[str]:
    keys: list[str] = []
    for item in (part.strip(" `") for part in cell.split(",")):
        if not item or item == "...":
            continue
        if item[0] in "_/" and keys:
            last = keys[-1]
            cut = max(last.rfind("_"), last.rfind("/")) if item[0] == "_" else last.rfind("/")
            keys.append(last[:cut] + item)
        else:
            keys.append(item)
    return keys


def documented_patterns(doc: Path = DOC) -> list[re.Pattern]:
    """One compiled pattern per key the list documents (full match)."""
    if not doc.is_file():
        raise InputError(
            f"the metrics list {doc} is missing; run from a checkout of this repository "
            "(pip install -e .), which carries docs/metrics.md"
        )
    patterns = []
    for line in doc.read_text().splitlines():
        if not line.startswith("| ") or line.startswith("| metric") or line.startswith("|---"):
            continue
        for key in _cell_keys(line.split("|")[1]):
            regex = re.escape(key).replace(r"\*", ".*")
            regex = re.sub(r"<[^>]+>", "[^/]+", regex.replace(r"\<", "<").replace(r"\>", ">"))
            patterns.append(re.compile(regex + "$"))
    if not patterns:
        raise InputError(f"{doc} holds no metric table rows ('| key | meaning | unit |'); it is the list to read")
    return patterns


def undocumented(keys, doc: Path = DOC) -> list[str]:
    """The keys (sorted) that docs/metrics.md does not list."""
    patterns = documented_patterns(doc)
    return sorted(k for k in keys if not any(p.match(k) for p in patterns))


def require_documented(keys, doc: Path = DOC) -> None:
    """Raise InputError naming every key that docs/metrics.md does not list."""
    missing = undocumented(keys, doc)
    if missing:
        raise InputError(
            f"dashboard panel key(s) {missing} are not in {doc.name}: a metric was renamed or removed. "
            "Use the key the list documents (and the code logs) in erpo/analysis/dashboard/catalogue.py"
        )
