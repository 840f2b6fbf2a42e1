"""Benchmark of the Stack Exchange step on a synthetic Posts.xml built from the real dump rows.

It writes, in a temporary folder (deleted at the end), Posts.xml files made of the real rows of
``../shared/data/stackexchange`` repeated with fresh ids, then measures IN ONE RUN:

1. throughput: the full step (``curate`` on one site, single process) against a bare
   ``lxml.etree.iterparse`` pass over the same file that does nothing with the rows (the practical limit
   of an XML parser), as seconds, MB/s and the ratio (target: <= 2x);
2. memory: peak RSS of the full step, each run in a fresh process, at two file sizes (size/4 and size):
   flat means bounded memory;
3. parallelism: four sites of size/8 each, ``num_proc=1`` against ``num_proc=2`` (best of ``--repeat`` runs);
4. the 7z streaming backends: the step on a ``.7z`` archive (py7zr, and the ``7z`` binary when on PATH)
   against the same Posts.xml extracted;
5. the datatrove path (``--executor local``, a fresh work folder per run) beside today's process pool at the
   same number of workers: the 1 GB file with 1 worker and the four sites with 2 (best of ``--repeat``),
   time ratio (target: <= 1.1x) and peak RSS (when datatrove is installed).

Usage: python benchmarks/bench_stackexchange.py [--size-mb 1024] [--archive-mb 32] [--repeat 3] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lxml import etree

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SITE = "quantumcomputing.stackexchange.com"
SITES = ("quantumcomputing.stackexchange.com", "physics.stackexchange.com", "beer.stackexchange.com",
         "cooking.stackexchange.com")
_IDS = re.compile(rb' (Id|ParentId|AcceptedAnswerId)="(\d+)"')


def real_rows(data: Path) -> list[list[bytes]]:
    """The row lines of each real sample Posts.xml file (one list per site, in file order)."""
    from lima_hf.data.sources.stackexchange.dump import locate, open_member

    sites = []
    dump = data / "stackexchange"
    for site in ("quantumcomputing.stackexchange.com", "beer.stackexchange.com", "bicycles.meta.stackexchange.com"):
        with open_member(locate(dump, site, "Posts.xml"), "py7zr") as stream:
            sites.append([line.strip() for line in stream if line.strip().startswith(b"<row ")])
    return sites


def synthesise(path: Path, sites: list[list[bytes]], size_mb: float) -> int:
    """Write a Posts.xml of about ``size_mb`` MB: each site's rows in turn, repeated, with ids shifted so that
    they keep increasing through the file as in a real dump (a file whose ids go back is read with the full
    parse); return its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = int(size_mb * 1024 * 1024)
    step = 10 ** (len(str(max(int(m.group(2)) for rows in sites for r in rows for m in _IDS.finditer(r)))) + 1)
    written = 0
    with open(path, "wb") as out:
        out.write(b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?>\r\n<posts>\r\n')
        block = 0
        while written < target:
            for rows in sites:
                shift = block * step
                block += 1
                chunk = b"".join(b"  " + _IDS.sub(lambda m, s=shift: b' %s="%d"' % (m.group(1), int(m.group(2)) + s), r)
                                 + b"\r\n" for r in rows)
                out.write(chunk)
                written += len(chunk)
        out.write(b"</posts>")
    return path.stat().st_size


def bare_iterparse(path: Path) -> float:
    """Seconds for an lxml iterparse pass that only clears each row."""
    start = time.perf_counter()
    for _, element in etree.iterparse(str(path), events=("end",), tag="row"):
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]
    return time.perf_counter() - start


def run_step(folder: Path, sites: list[str], num_proc: int = 1, backend: str = "auto", executor: str = "pool") -> dict:
    """The full step in a fresh process: seconds and peak RSS (MiB) of that process and its children. With a
    datatrove ``executor``, a fresh work folder (nothing to resume)."""
    work_dir = tempfile.mkdtemp(prefix="bench_se_work_") if executor != "pool" else None
    code = (
        "import json, resource, time, sys\n"
        "from lima_hf.data.sources.stackexchange import Config, curate\n"
        f"config = Config(input={str(folder)!r}, sites={sites!r}, num_proc={num_proc}, sevenzip_backend={backend!r},\n"
        f"                progress=False, report=False, executor={executor!r}, work_dir={work_dir!r})\n"
        "def cpu():\n"
        "    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),\n"
        "                                                resource.getrusage(resource.RUSAGE_CHILDREN)))\n"
        "cpu0 = cpu(); start = time.perf_counter(); result = curate(config); seconds = time.perf_counter() - start\n"
        "rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print(json.dumps({'seconds': seconds, 'cpu_seconds': cpu() - cpu0, 'rss_mib': rss / 1024,"
        " 'records': len(result.records),"
        " 'rejections': len(result.rejections)}))\n"
    )
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT)
    finally:
        if work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def has_datatrove() -> bool:
    try:
        import datatrove  # noqa: F401
    except ImportError:
        return False
    return True


def make_archive(folder: Path, site: str, posts: Path) -> None:
    """``<site>.7z`` holding ``posts`` as Posts.xml (LZMA2, fast preset)."""
    import py7zr

    folder.mkdir(parents=True, exist_ok=True)
    with py7zr.SevenZipFile(folder / f"{site}.7z", "w", filters=[{"id": py7zr.FILTER_LZMA2, "preset": 1}]) as archive:
        archive.write(posts, "Posts.xml")


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"| {name.ljust(width)} | {value} |" for name, value in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=1024, help="size of the large Posts.xml (MB)")
    parser.add_argument("--archive-mb", type=float, default=32, help="size of the Posts.xml packed as .7z (MB)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each num_proc for the speed-up (best taken)")
    parser.add_argument("--data", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the synthetic dumps")
    args = parser.parse_args(argv)
    if not (args.data / "stackexchange").is_dir():
        print(f"no real data at {args.data}/stackexchange", file=sys.stderr)
        return 1
    rows = real_rows(args.data)
    work = Path(tempfile.mkdtemp(prefix="bench_se_", dir=args.workdir))
    report: list[tuple[str, str]] = []
    try:
        big = work / "big"
        size = synthesise(big / SITE / "Posts.xml", rows, args.size_mb) / 1e6
        bare = bare_iterparse(big / SITE / "Posts.xml")
        step = run_step(big, [SITE])
        report += [
            ("Posts.xml size", f"{size:,.0f} MB"),
            ("bare lxml iterparse", f"{bare:.1f} s ({size / bare:.0f} MB/s)"),
            ("full step, 1 process", f"{step['seconds']:.1f} s ({size / step['seconds']:.0f} MB/s)"),
            ("ratio full / bare", f"{step['seconds'] / bare:.2f}x"),
        ]

        if has_datatrove():
            best = {"pool": [step], "local": []}
            for _ in range(args.repeat):
                best["local"].append(run_step(big, [SITE], executor="local"))
                if len(best["pool"]) < args.repeat:
                    best["pool"].append(run_step(big, [SITE]))
            pool_run, local_run = (min(best[e], key=lambda run: run["seconds"]) for e in ("pool", "local"))
            report += [
                (f"datatrove local executor, 1 worker, {size:,.0f} MB (best of {args.repeat})",
                 (f"{local_run['seconds']:.1f} s vs {pool_run['seconds']:.1f} s today: "
                  f"**{local_run['seconds'] / pool_run['seconds']:.2f}x** (target <= 1.1x)")),
                ("peak RSS, datatrove local vs today",
                 f"{local_run['rss_mib']:.0f} MiB vs {pool_run['rss_mib']:.0f} MiB"),
            ]

        small = work / "small"
        small_size = synthesise(small / SITE / "Posts.xml", rows, args.size_mb / 4) / 1e6
        small_step = run_step(small, [SITE])
        report += [
            (f"peak RSS at {small_size:,.0f} MB", f"{small_step['rss_mib']:.0f} MiB"),
            (f"peak RSS at {size:,.0f} MB", f"{step['rss_mib']:.0f} MiB"),
        ]
        shutil.rmtree(small)

        many = work / "many"
        for site in SITES:
            synthesise(many / site / "Posts.xml", rows, args.size_mb / 8)
        runs: dict[int, list[dict]] = {1: [], 2: []}
        for _ in range(args.repeat):  # interleaved, best of each: other jobs on the machine come and go
            for num_proc in (1, 2):
                runs[num_proc].append(run_step(many, list(SITES), num_proc=num_proc))
        one, two = (min(runs[n], key=lambda run: run["seconds"]) for n in (1, 2))
        for num_proc, run in ((1, one), (2, two)):
            report.append((f"{len(SITES)} sites x {args.size_mb / 8:,.0f} MB, num_proc={num_proc} (best of {args.repeat})",
                           f"{run['seconds']:.1f} s wall, {run['cpu_seconds']:.1f} s CPU"))
        report += [
            ("speed-up with 2 processes (wall)", f"{one['seconds'] / two['seconds']:.2f}x"),
            ("CPU of 2 processes / CPU of 1 (overhead)", f"{two['cpu_seconds'] / one['cpu_seconds']:.2f}x"),
        ]
        if has_datatrove():
            local_runs = [run_step(many, list(SITES), num_proc=2, executor="local") for _ in range(args.repeat)]
            local = min(local_runs, key=lambda run: run["seconds"])
            report += [
                (f"{len(SITES)} sites, datatrove local executor, 2 workers (best of {args.repeat})",
                 (f"{local['seconds']:.1f} s vs {two['seconds']:.1f} s today: "
                  f"**{local['seconds'] / two['seconds']:.2f}x** (target <= 1.1x); peak RSS {local['rss_mib']:.0f} MiB "
                  f"vs {two['rss_mib']:.0f} MiB")),
            ]
        shutil.rmtree(many)
        shutil.rmtree(big)

        packed = work / "packed"
        posts = work / "plain" / SITE / "Posts.xml"
        archive_size = synthesise(posts, rows, args.archive_mb) / 1e6
        make_archive(packed, SITE, posts)
        plain = run_step(work / "plain", [SITE])
        py7zr_step = run_step(packed, [SITE], backend="py7zr")
        report += [
            (f"extracted Posts.xml, {archive_size:,.0f} MB", f"{plain['seconds']:.1f} s, {plain['rss_mib']:.0f} MiB"),
            ("same as .7z, py7zr stream", (f"{py7zr_step['seconds']:.1f} s "
                                           f"({py7zr_step['seconds'] / plain['seconds']:.2f}x), "
                                           f"{py7zr_step['rss_mib']:.0f} MiB")),
        ]
        if shutil.which("7z") or shutil.which("7zz") or shutil.which("7za"):
            binary = run_step(packed, [SITE], backend="7z")
            report.append(("same as .7z, 7z binary stream",
                           (f"{binary['seconds']:.1f} s ({binary['seconds'] / plain['seconds']:.2f}x), "
                            f"{binary['rss_mib']:.0f} MiB")))
        else:
            report.append(("same as .7z, 7z binary stream", "not measured (no 7z binary on PATH)"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("Stack Exchange step benchmark (one run; compare ratios, absolute times depend on the machine)")
    print(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
