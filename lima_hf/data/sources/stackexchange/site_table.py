"""The labelled table of Stack Exchange sites: which exchanges are STEM, other, niche or meta.

The paper split the exchanges into 75 STEM and 99 other ones and discarded 5 niche ones, without
publishing its list. Ours ships as ``lima_hf/resources/stackexchange_sites.csv`` (columns ``domain``,
``name``, ``label``, ``rationale``): every site of the 2018 dump's Sites.xml and of the 2024 site list,
renamed sites under both names. Meta sites are ``meta`` by rule (any ``meta.`` domain), whatever the table
says. Edit a copy and pass it with ``--sites_table`` to change the split.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lima_hf.io import InputError

LABELS = ("stem", "other", "niche", "meta")
KEPT_LABELS = ("stem", "other")
TABLE_COLUMNS = ("domain", "name", "label", "rationale")


@dataclass(frozen=True)
class SiteLabel:
    """One row of the site table."""

    domain: str
    name: str
    label: str
    rationale: str


def default_table_path() -> Path:
    """The packaged table."""
    return Path(str(resources.files("lima_hf") / "resources" / "stackexchange_sites.csv"))


def is_meta(domain: str) -> bool:
    """Meta sites (``meta.stackexchange.com``, ``<site>.meta.stackexchange.com``, ``meta.<site>.com``)."""
    return domain.startswith("meta.") or ".meta." in domain


def load_site_table(path: str | Path | None = None) -> dict[str, SiteLabel]:
    """The site table as ``domain -> SiteLabel``; a bad row raises InputError naming the file and line."""
    path = Path(path) if path else default_table_path()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read the site table ({err})") from err
    table: dict[str, SiteLabel] = {}
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [column for column in TABLE_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{path}:1: site table lacks column(s) {', '.join(missing)}")
    for row in reader:
        domain = (row["domain"] or "").strip().lower()
        label = (row["label"] or "").strip().lower()
        if not domain or label not in LABELS:
            raise InputError(f"{path}:{reader.line_num}: bad row (domain {domain!r}, label {label!r}; "
                             f"labels are {', '.join(LABELS)})")
        if domain in table:
            raise InputError(f"{path}:{reader.line_num}: domain {domain} listed twice")
        if is_meta(domain):
            label = "meta"
        table[domain] = SiteLabel(domain, (row["name"] or "").strip(), label, (row["rationale"] or "").strip())
    return table


def site_label(domain: str, table: dict[str, SiteLabel]) -> str | None:
    """The label of ``domain`` (``meta`` by rule for meta sites), or ``None`` when the table lacks it."""
    if is_meta(domain):
        return "meta"
    entry = table.get(domain.lower())
    return entry.label if entry else None
