"""The packaged site table and temperature sampling across exchanges."""

import random
from collections import Counter

import pytest

from lima_hf.data.sources.stackexchange.dump import read_sites_xml, site_domain
from lima_hf.data.sources.stackexchange.sampling import (
    exchange_weights,
    sample_across_exchanges,
)
from lima_hf.data.sources.stackexchange.site_table import (
    is_meta,
    load_site_table,
    site_label,
)
from lima_hf.errors import InputError


def test_table_covers_every_site_of_2018_and_2024(shared_data):
    table = load_site_table()
    dump = shared_data / "stackexchange"
    domains_2018 = {site_domain(row["Url"]) for row in read_sites_xml(dump / "Sites.xml")}
    domains_2024 = {line.strip() for line in (dump / "site_domains_2024.txt").read_text().splitlines() if line.strip()}
    assert not (domains_2018 | domains_2024) - set(table)
    # renamed sites are there under both names, with the same label
    for old, new in [("beer", "alcohol"), ("writers", "writing"), ("avp", "video"), ("cogsci", "psychology"),
                     ("health", "medicalsciences")]:
        assert table[f"{old}.stackexchange.com"].label == table[f"{new}.stackexchange.com"].label


def test_counts_on_the_2018_and_2024_site_lists(shared_data):
    """The split docs/stackexchange.md quotes, on the 2018 dump's Sites.xml and the 2024 site list."""
    table = load_site_table()
    dump = shared_data / "stackexchange"
    domains_2018 = [site_domain(row["Url"]) for row in read_sites_xml(dump / "Sites.xml")]
    domains_2024 = [line.strip() for line in (dump / "site_domains_2024.txt").read_text().splitlines() if line.strip()]
    counts = {name: Counter(site_label(d, table) for d in domains) for name, domains in
              (("2018", domains_2018), ("2024", domains_2024))}
    assert counts["2018"] == {"meta": 172, "other": 90, "stem": 73, "niche": 9}
    assert counts["2024"] == {"other": 90, "stem": 82, "niche": 9, "meta": 1}


def test_table_proportions_and_rationale():
    table = load_site_table()
    labels = Counter(entry.label for entry in table.values())
    assert (labels["stem"], labels["other"], labels["niche"]) == (86, 95, 9)  # docs/stackexchange.md, "The site table"
    assert all(entry.rationale for entry in table.values())
    assert table["quantumcomputing.stackexchange.com"].label == "stem"
    assert table["beer.stackexchange.com"].label == "other"
    assert table["stackoverflow.com"].label == "stem"


def test_meta_sites_are_meta_by_rule():
    table = load_site_table()
    for domain in ("meta.stackexchange.com", "bicycles.meta.stackexchange.com", "meta.stackoverflow.com",
                   "some-new-site.meta.stackexchange.com"):
        assert is_meta(domain) and site_label(domain, table) == "meta"
    assert site_label("not-a-site.example.com", table) is None


def test_bad_site_tables(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("domain,name,label,rationale\na.com,A,stem,x\nb.com,B,science,y\n")
    with pytest.raises(InputError, match=r"sites.csv:3: bad row"):
        load_site_table(path)
    path.write_text("domain,label\na.com,stem\n")
    with pytest.raises(InputError, match=r"lacks column"):
        load_site_table(path)
    path.write_text("domain,name,label,rationale\na.com,A,stem,x\na.com,A,other,y\n")
    with pytest.raises(InputError, match="listed twice"):
        load_site_table(path)


def test_exchange_weights_follow_the_temperature():
    weights = exchange_weights({"big": 1_000_000, "small": 1_000}, temperature=3)
    assert weights["big"] / weights["small"] == pytest.approx(10.0)
    assert exchange_weights({"a": 8}, temperature=1)["a"] == 8
    with pytest.raises(ValueError):
        exchange_weights({"a": 1}, temperature=0)


def test_sampling_spreads_across_exchanges_and_is_deterministic():
    ranked = {"big": [f"big{i}" for i in range(500)], "small": [f"small{i}" for i in range(500)]}
    sizes = {"big": 1_000_000, "small": 1_000}
    draws = sample_across_exchanges(ranked, sizes, 220, 3.0, random.Random(0))
    counts = Counter(item.rstrip("0123456789") for item in draws)
    assert counts["big"] + counts["small"] == 220
    assert 150 < counts["big"] < 215  # 10:1 odds at tau=3 (it would be 1000:1 at tau=1)
    # best-first within each exchange
    assert [d for d in draws if d.startswith("small")] == [f"small{i}" for i in range(counts["small"])]
    assert draws == sample_across_exchanges(ranked, sizes, 220, 3.0, random.Random(0))
    at_tau_1 = Counter(i.rstrip("0123456789") for i in sample_across_exchanges(ranked, sizes, 220, 1.0, random.Random(0)))
    assert at_tau_1["small"] < counts["small"]


def test_sampling_moves_on_when_an_exchange_runs_out():
    draws = sample_across_exchanges({"a": ["a0"], "b": ["b0", "b1", "b2"]}, {"a": 10**9, "b": 1}, 10, 3.0,
                                    random.Random(1))
    assert sorted(draws) == ["a0", "b0", "b1", "b2"]
