"""Read docs/metrics.md (the one list of logged metrics) into key patterns; tests check logs against it.

A row's first cell lists keys: full keys, suffix shorthands (``_mean`` / ``/max`` after a full key
replace its last ``_``- or ``/``-part), ``*`` for any rest of a key and ``<name>`` for one segment.
"""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


def _cell_patterns(cell: str) -> list[str]:
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
    patterns = []
    for line in doc.read_text().splitlines():
        if not line.startswith("| ") or line.startswith("| metric") or line.startswith("|---"):
            continue
        for key in _cell_patterns(line.split("|")[1]):
            regex = re.escape(key).replace(r"\*", ".*")
            regex = re.sub(r"<[^>]+>", "[^/]+", regex.replace(r"\<", "<").replace(r"\>", ">"))
            patterns.append(re.compile(regex + "$"))
    return patterns


def undocumented(keys, doc: Path = DOC) -> list[str]:
    patterns = documented_patterns(doc)
    return sorted(k for k in keys if not any(p.match(k) for p in patterns))
