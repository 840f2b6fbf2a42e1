"""LIMA pairwise preference as an ``evaluate`` metric: win / tie / loss rates with bootstrap 95% intervals.

Load it with ``evaluate.load(lima_hf.evaluation.metrics.metric_path("lima_preference"))``.
"""

import datasets
import evaluate

from .parsing import parse_preference
from .stats import pair_outcome, preference_summary

_CITATION = """\
@inproceedings{zhou2023lima,
  title={{LIMA}: Less Is More for Alignment},
  author={Zhou, Chunting and Liu, Pengfei and Xu, Puxin and Iyer, Srini and Sun, Jiao and Mao, Yuning and Ma, Xuezhe
          and Efrat, Avia and Yu, Ping and Yu, Lili and Zhang, Susan and Ghosh, Gargi and Lewis, Mike
          and Zettlemoyer, Luke and Levy, Omer},
  booktitle={Advances in Neural Information Processing Systems},
  year={2023}
}
"""

_DESCRIPTION = """\
Pairwise preference in the LIMA protocol. Each pair (our answer vs a baseline's) is judged in both orders:
`ours_first` is the verdict with our answer shown as "Answer A", `baseline_first` the verdict with the
baseline's shown as "Answer A". A verdict is "A better", "B better" or "neither" (or a raw judge reply,
parsed the same way). Agreeing orders keep their verdict, disagreeing ones count as a tie; a pair with an
unreadable verdict is counted as unparsed and left out of the rates.
"""

_KWARGS_DESCRIPTION = """
Args:
    ours_first (`list` of `str`): verdicts with our answer first.
    baseline_first (`list` of `str`): verdicts with the baseline's answer first (empty string: not judged).
    prompt_ids (`list` of `str`, optional): the prompt of each pair; bootstrap resamples prompts. Default: each
        pair is its own prompt.
    n_resamples (`int`, default 1000): bootstrap resamples. seed (`int`, default 0).
Returns:
    win, tie, loss (`float`): rates over parsed pairs; win_ci, tie_ci, loss_ci (`list`): 95% intervals;
    unparsed (`int`); first_preferred_rate (`float`): position bias (0.5 = none); agreement (`float`).
Examples:
    >>> metric = evaluate.load(metric_path("lima_preference"))
    >>> metric.compute(ours_first=["A better", "neither"], baseline_first=["B better", "A better"])["win"]
    0.5
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class LimaPreference(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"ours_first": datasets.Value("string"), "baseline_first": datasets.Value("string")}
            ),
            reference_urls=["https://arxiv.org/abs/2305.11206"],
        )

    def _compute(self, ours_first, baseline_first, prompt_ids=None, n_resamples=1000, seed=0):
        prompt_ids = prompt_ids if prompt_ids is not None else [str(i) for i in range(len(ours_first))]
        pairs = []
        for prompt_id, first, second in zip(prompt_ids, ours_first, baseline_first):
            pair = {"id": prompt_id, "ours_first": parse_preference(first)}
            if second not in (None, ""):
                pair["baseline_first"] = parse_preference(second)
            pair["outcome"] = pair_outcome(pair)
            pairs.append(pair)
        summary = preference_summary(pairs, n_resamples=n_resamples, seed=seed)
        return {
            **summary["rates"],
            **{f"{name}_ci": interval for name, interval in summary["intervals_95"].items()},
            "unparsed": summary["counts"]["unparsed"],
            "first_preferred_rate": summary["position"]["first_preferred_rate"],
            "agreement": summary["agreement"]["rate"],
        }
