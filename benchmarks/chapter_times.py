"""Benchmark 4, the chapters: each chapter's execution time against its 90 s budget and their
sum against the book's 6 minutes, read from the last ``make book`` log (``_build/build.log``) or
the built execution-times page, or measured afresh (``pytest --nbmake`` per chapter, or a full
``jupyter-book build``).
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

CHAPTER_LINE = re.compile(r"([^/\s]+\.ipynb): Executed notebook in ([0-9.]+) seconds")
CHAPTER_BUDGET_SECONDS = 90.0
BOOK_BUDGET_SECONDS = 360.0


def chapter_times_from_log(text: str) -> dict[str, float]:
    """Chapter execution times from a jupyter-book log (myst-nb's "Executed notebook" lines)."""
    return {name: float(seconds) for name, seconds in CHAPTER_LINE.findall(text)}


def chapter_times_from_html(text: str) -> dict[str, float]:
    """Chapter execution times from the built ``execution_times.html`` (myst-nb's table)."""
    times = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", text, flags=re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(
            r"<td[^>]*>(.*?)</td>", row, flags=re.S)]  # fmt: skip
        if len(cells) >= 4:
            try:
                times[Path(cells[0]).name + ".ipynb"] = float(cells[3])
            except ValueError:
                continue
    return times


def print_chapter_times(times: Mapping[str, float], source: str, total: float | None) -> None:
    """Each chapter's time against its 90 s budget, and the sum against the book's 6 min."""
    print(f"\n4. Chapter execution times ({source})")
    for name, seconds in sorted(times.items()):
        verdict = "over the 90 s budget" if seconds > CHAPTER_BUDGET_SECONDS else ""
        print(f"  {name:<58} {seconds:8.1f} s   {verdict}")
    book = sum(times.values())
    verdict = "over the 6 min budget" if book > BOOK_BUDGET_SECONDS else ""
    print(f"  {'sum of the chapters':<58} {book:8.1f} s   {verdict}")
    if total is not None:
        print(f"  {'whole book build, wall time':<58} {total:8.1f} s")


def time_chapters_with_nbmake(root: Path) -> dict[str, float]:
    """Execute each chapter in a fresh kernel with ``pytest --nbmake``; wall time per chapter."""
    times = {}
    for notebook in sorted((root / "chapters").glob("*.ipynb")):
        command = [sys.executable, "-m", "pytest", "-q", "--nbmake", str(notebook)]
        started = time.perf_counter()
        result = subprocess.run(command, cwd=root, capture_output=True, text=True)
        times[notebook.name] = time.perf_counter() - started
        if result.returncode != 0:
            print(f"  {notebook.name} FAILED:\n{result.stdout[-2000:]}")
    return times


def time_book_build(root: Path) -> tuple[dict[str, float], float]:
    """A full ``jupyter-book build`` into a temporary directory: chapter times and wall time."""
    executable = Path(sys.executable).with_name("jupyter-book")
    with tempfile.TemporaryDirectory() as output:
        command = [str(executable), "build", str(root), "--path-output", output, "--all"]
        environment = {**os.environ, "OPTLIB_PROGRESS": "0"}
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, env=environment)
        total = time.perf_counter() - started
    if result.returncode != 0:
        print(f"  the book build failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return chapter_times_from_log(result.stdout + result.stderr), total


def report_chapters(root: Path, nbmake: bool, book: bool) -> None:
    """Chapter times measured now (``book``: a full build; ``nbmake``: one pytest per chapter),
    or else read from ``root``'s last build: its log, or failing that its execution-times page."""
    if book:
        times, total = time_book_build(root)
        print_chapter_times(times, "measured now: jupyter-book build --all", total)
    if nbmake:
        source = "measured now: pytest --nbmake, each including pytest's and the kernel's start"
        print_chapter_times(time_chapters_with_nbmake(root), source, None)
    if book or nbmake:
        return
    log, page = root / "_build" / "build.log", root / "_build" / "html" / "execution_times.html"
    logged = chapter_times_from_log(log.read_text(errors="replace")) if log.is_file() else {}
    if logged:
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(log.stat().st_mtime))
        print_chapter_times(logged, f"from {log.relative_to(root)}, {stamp}", None)
    elif page.is_file():
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(page.stat().st_mtime))
        times = chapter_times_from_html(page.read_text(errors="replace"))
        print_chapter_times(times, f"from {page.relative_to(root)}, {stamp}", None)
    else:
        print("\n4. Chapter execution times: no build found; run `make book` or pass --chapters")
