"""Stack Exchange curation from the real data dumps (LIMA: 200 STEM + 200 other examples, and multi-turn
candidates from comment chains). ``curate(Config(input=DUMP_FOLDER))`` streams every site's Posts.xml,
applies the paper's rules, samples across exchanges with temperature tau and returns a
:class:`~lima_hf.data.records.SourceResult`.
"""

from lima_hf.data.sources.base import CardEntry
from lima_hf.data.sources.stackexchange.config import Config
from lima_hf.data.sources.stackexchange.dump import sample_dump_path
from lima_hf.data.sources.stackexchange.pipeline import SOURCE as NAME
from lima_hf.data.sources.stackexchange.pipeline import curate

LABELS = {
    NAME: CardEntry(
        title="Stack Exchange",
        rules="Exchanges split into STEM and other (niche ones dropped), sampled with temperature tau=3; within "
        "an exchange the highest-scoring questions self-contained in the title; their top answer with score "
        ">= 10, 1,200-4,096 characters, not in the first person, not referring to other answers; HTML "
        "converted to Markdown (links to their text, images removed, code blocks and lists kept); prompt "
        "= the title or the description at random.",
        license="CC BY-SA (2.5, 3.0 or 4.0, as each post states)",
        attribution="Stack Exchange contributors; each row's `url` and `author` name the post and its author.",
    )
}

__all__ = ["LABELS", "NAME", "Config", "curate", "sample_dump_path"]
