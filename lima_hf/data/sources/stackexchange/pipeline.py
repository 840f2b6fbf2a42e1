"""The Stack Exchange step: sites in parallel, then sampling, records, rejections and counts."""

from __future__ import annotations

import random
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

from lima_hf.data.records import SourceResult, make_record
from lima_hf.data.rules import reject
from lima_hf.data.sources.stackexchange.candidates import Candidate
from lima_hf.data.sources.stackexchange.comments import turn_text
from lima_hf.data.sources.stackexchange.config import Config
from lima_hf.data.sources.stackexchange.dump import (
    SITES_XML,
    list_dump_sites,
    read_sites_xml,
    site_domain,
)
from lima_hf.data.sources.stackexchange.report import print_report, site_counts
from lima_hf.data.sources.stackexchange.sampling import sample_across_exchanges
from lima_hf.data.sources.stackexchange.site import SiteOutcome, process_site
from lima_hf.data.sources.stackexchange.site_table import (
    KEPT_LABELS,
    load_site_table,
    site_label,
)
from lima_hf.io import InputError

SOURCE = "stackexchange"


def curate(config: Config) -> SourceResult:
    """Curate the dump folder ``config.input`` (see ``docs/stackexchange.md``)."""
    if not config.input:
        raise InputError("no input: pass --input DUMP_FOLDER (a Stack Exchange dump folder)")
    folder = Path(config.input)
    result = SourceResult()
    jobs = _site_jobs(folder, config, result)
    outcomes = _run_sites(jobs, folder, config)
    for outcome in outcomes:
        result.rejections.extend(_site_rejections(outcome))
    names = _site_names(folder)
    result.records = _sample_records(outcomes, config, names, result)
    result.extras["multi_turn_candidates"] = [
        _dialogue_record(candidate, outcome, config, names)
        for outcome in outcomes for candidate in outcome.candidates if candidate.answer.id in outcome.dialogues
    ]
    result.extras["site_counts"] = site_counts(outcomes, result.records, result.rejections)
    if config.report:
        print_report(result.extras["site_counts"], result.rejection_counts())
    return result


def _site_jobs(folder: Path, config: Config, result: SourceResult) -> list[tuple[str, str]]:
    """The ``(site, label)`` pairs to curate; excluded and unknown sites go to the rejection log."""
    found = list_dump_sites(folder)
    if not found:  # say why nothing would be curated instead of succeeding with 0 records
        if (folder / "Posts.xml").is_file():
            raise InputError(f"{folder}: is one site's folder; pass the dump folder that holds it ({folder.parent}) "
                             f"as --input, with --sites {folder.name} to curate only this site")
        contents = "it is empty" if not any(folder.iterdir()) else "it holds no SITE/Posts.xml folder or SITE.7z archive"
        raise InputError(f"{folder}: no Stack Exchange site found ({contents})")
    table = load_site_table(config.sites_table)
    wanted = sorted(found)
    if config.sites:
        missing = [site for site in config.sites if site not in found]
        if missing:
            raise InputError(f"{folder}: site(s) not in the dump: {', '.join(missing)}")
        wanted = sorted(set(config.sites))
    jobs: list[tuple[str, str]] = []
    for site in wanted:
        label = site_label(site, table)
        if label is None:
            message = (f"{found[site]}: unknown site {site}: it is not in the site table "
                       f"({config.sites_table or 'the packaged stackexchange_sites.csv'}); label it stem, other, "
                       "niche or meta there")
            if config.on_error == "raise":
                raise InputError(message)
            reject(result.rejections, source=SOURCE, id=f"{SOURCE}/{site}", reason="site_unknown", detail=message)
        elif label in KEPT_LABELS:
            jobs.append((site, label))
        else:
            reject(result.rejections, source=SOURCE, id=f"{SOURCE}/{site}", reason=f"site_{label}",
                   detail=f"{label} site, excluded")
    return jobs


def _sample_records(outcomes: list[SiteOutcome], config: Config, names: dict[str, str],
                    result: SourceResult) -> list[dict]:
    """Each set's examples drawn across exchanges; eligible questions not drawn are logged ``not_sampled``."""
    sizes = {o.site: o.questions for o in outcomes}
    chosen: set[tuple[str, int]] = set()
    records = []
    for label, count in (("stem", config.stem_count), ("other", config.other_count)):
        ranked = {o.site: o.candidates for o in outcomes if o.label == label and o.candidates}
        rng = random.Random(f"{config.seed}/{label}")
        for candidate in sample_across_exchanges(ranked, sizes, count, config.temperature, rng):
            chosen.add((candidate.site, candidate.question.id))
            records.append(_record(candidate, label, config, names))
    for outcome in outcomes:
        for candidate in outcome.candidates:
            if (candidate.site, candidate.question.id) not in chosen:
                reject(result.rejections, source=SOURCE, id=_question_id(candidate.site, candidate.question.id),
                       reason="not_sampled",
                       detail=f"eligible (rank {candidate.rank}) but not drawn for the {outcome.label} set")
    return records


def _run_sites(jobs: list[tuple[str, str]], folder: Path, config: Config) -> list[SiteOutcome]:
    """Stage 1, each site's outcome in the order of ``jobs``: on a datatrove executor (:mod:`.stage`) or in the
    process pool."""
    if config.executor != "pool":
        from lima_hf.data.sources.stackexchange.stage import run_sites

        return run_sites(jobs, folder, config) if jobs else []
    from tqdm.auto import tqdm

    outcomes: dict[str, SiteOutcome] = {}
    progress = tqdm(total=len(jobs), desc="Stack Exchange sites", unit="site", disable=not config.progress)
    with progress:
        if (config.num_proc or 1) > 1 and len(jobs) > 1:
            # Largest dumps first, so that the pool is not left waiting on one big site at the end.
            order = sorted(jobs, key=lambda job: -_dump_size(folder, job[0]))
            workers = min(config.num_proc, len(jobs))
            with ProcessPoolExecutor(max_workers=workers, mp_context=_process_context()) as pool:
                futures = {pool.submit(process_site, site, label, str(folder), config): site for site, label in order}
                for future in as_completed(futures):
                    outcomes[futures[future]] = future.result()
                    progress.update()
        else:
            for site, label in jobs:
                outcomes[site] = process_site(site, label, str(folder), config)
                progress.update()
    return [outcomes[site] for site, _ in jobs]


def _process_context():
    """``fork`` where there is one: workers start at once and the caller's script needs no ``__main__`` guard
    (the workers only stream files, they share no thread or lock with the parent); ``spawn`` elsewhere."""
    return get_context("fork" if "fork" in get_all_start_methods() else "spawn")


def _dump_size(folder: Path, site: str) -> int:
    paths = [folder / f"{site}.7z", folder / f"{site}-Posts.7z", folder / site / "Posts.xml"]
    return sum(path.stat().st_size for path in paths if path.is_file())


def _site_names(folder: Path) -> dict[str, str]:
    sites_xml = folder / SITES_XML
    if not sites_xml.is_file():
        return {}
    return {site_domain(row.get("Url", "")): row.get("Name", "") for row in read_sites_xml(sites_xml)}


def _question_id(site: str, question_id: int) -> str:
    return f"{SOURCE}/{site}/q/{question_id}"


def _site_rejections(outcome: SiteOutcome) -> list[dict]:
    rejections: list[dict] = []
    for location, reason, detail in outcome.skipped_rows:
        reject(rejections, source=SOURCE, id=location, reason=reason, detail=detail)
    if outcome.error:
        reject(rejections, source=SOURCE, id=f"{SOURCE}/{outcome.site}", reason="site_unreadable",
               detail=outcome.error)
    for verdict in outcome.rejected:
        reject(rejections, source=SOURCE, id=_question_id(verdict.site, verdict.question_id), reason=verdict.reason,
               detail=verdict.detail)
    return rejections


UNKNOWN_AUTHOR = "unknown (the dump names no owner)"


def _author(site: str, display_name: str | None, user_id: str | None) -> str:
    """The display name the row carries (deleted users), else the author's profile URL, else a plain
    statement that the dump names nobody (never ``None``)."""
    if display_name:
        return display_name
    return f"https://{site}/users/{user_id}" if user_id else UNKNOWN_AUTHOR


def _prompt(candidate: Candidate, config: Config) -> tuple[str, str]:
    """The prompt and which field it is: the title or the body, drawn per example from the seed."""
    rng = random.Random(f"{config.seed}/{candidate.site}/{candidate.question.id}")
    use_title = rng.random() < config.title_probability and candidate.question.title.strip()
    if use_title or not candidate.question_markdown:
        return candidate.question.title, "title"
    return candidate.question_markdown, "body"


def _attribution(candidate: Candidate, names: dict[str, str]) -> dict:
    question, answer, site = candidate.question, candidate.answer, candidate.site
    return {
        "site": site,
        "site_name": names.get(site, ""),
        "question_id": question.id,
        "question_url": f"https://{site}/questions/{question.id}",
        "question_score": question.score,
        "question_author": _author(site, question.owner_display_name, question.owner_user_id),
        "question_license": question.license,
        "question_date": question.creation_date,
        "title": question.title,
        "tags": question.tags,
        "answer_id": answer.id,
        "answer_score": answer.score,
        "answer_date": answer.creation_date,
        "rank_in_site": candidate.rank,
    }


def _record(candidate: Candidate, label: str, config: Config, names: dict[str, str]) -> dict:
    prompt, field = _prompt(candidate, config)
    answer, site = candidate.answer, candidate.site
    return make_record(
        id=f"{SOURCE}/{site}/a/{answer.id}",
        source=SOURCE,
        messages=[{"role": "user", "content": prompt}, {"role": "assistant", "content": candidate.answer_markdown}],
        category=label,
        url=f"https://{site}/a/{answer.id}",
        author=_author(site, answer.owner_display_name, answer.owner_user_id),
        license=answer.license,
        source_id=str(answer.id),
        score=answer.score,
        metadata={**_attribution(candidate, names), "prompt_field": field},
    )


def _dialogue_record(candidate: Candidate, outcome: SiteOutcome, config: Config, names: dict[str, str]) -> dict:
    prompt, field = _prompt(candidate, config)
    turns = outcome.dialogues[candidate.answer.id]
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": candidate.answer_markdown}]
    messages += [{"role": role, "content": turn_text(group)} for role, group in turns]
    answer, site = candidate.answer, candidate.site
    return make_record(
        id=f"{SOURCE}/{site}/a/{answer.id}/comments",
        source=SOURCE,
        messages=messages,
        category=outcome.label,
        url=f"https://{site}/a/{answer.id}",
        author=_author(site, answer.owner_display_name, answer.owner_user_id),
        license=answer.license,
        source_id=str(answer.id),
        score=answer.score,
        metadata={
            **_attribution(candidate, names),
            "prompt_field": field,
            "comment_ids": [[c.id for c in group] for _, group in turns],
            "comment_licenses": sorted({c.license for _, group in turns for c in group}),
        },
    )

