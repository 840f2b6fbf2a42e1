"""LIMA Likert helpfulness (1-6) as an ``evaluate`` metric: the mean with its 95% interval.

Load it with ``evaluate.load(lima_hf.evaluation.metrics.metric_path("lima_likert"))``.
"""

import datasets
import evaluate

from .parsing import parse_likert
from .stats import likert_summary

_CITATION = """\
@inproceedings{zhou2023lima,
  title={{LIMA}: Less Is More for Alignment},
  author={Zhou, Chunting and Liu, Pengfei and Xu, Puxin and Iyer, Srini and others},
  booktitle={Advances in Neural Information Processing Systems},
  year={2023}
}
"""

_DESCRIPTION = """\
Helpfulness on the LIMA ablations' 1-6 Likert scale: the mean over prompts x samples with its p=0.95
two-sided interval (mean +- 1.96 sd / sqrt(n)). `scores` are integers (None: unparsed) or raw judge
replies, parsed as the paper's template asks (the score alone on the last line). Unparseable replies and
out-of-range scores are counted in `unparsed` and left out of the mean.
"""

_KWARGS_DESCRIPTION = """
Args:
    scores (`list` of `int` or `str`): 1-6 scores, or judge replies to parse.
Returns:
    mean (`float`), ci (`list`): 95% interval, std (`float`), n (`int`): scored, unparsed (`int`),
    histogram (`dict`): count per level.
Examples:
    >>> metric = evaluate.load(metric_path("lima_likert"))
    >>> metric.compute(scores=[4, 5, 6])["mean"]
    5.0
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class LimaLikert(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features({"scores": datasets.Value("int32")}),
                datasets.Features({"scores": datasets.Value("string")}),
            ],
            reference_urls=["https://arxiv.org/abs/2305.11206"],
        )

    def _compute(self, scores):
        scores = [None if score is None else parse_likert(str(score)) for score in scores]
        summary = likert_summary(scores)
        return {
            "mean": summary["mean"],
            "ci": summary["interval_95"],
            "std": summary["std"],
            "n": summary["n"],
            "unparsed": summary["unparsed"],
            "histogram": summary["histogram"],
        }
