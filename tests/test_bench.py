"""The benchmarks' bookkeeping (benchmarks/timing.py: goals, paired ratios, turn-taking), their
reading of chapter times (chapter_times.py), the sweep contenders' equal work (sweeps.py) and
bench.py's command line.

Nothing here times anything: the benchmark itself is run by hand (``make bench``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from optlib.training import sweep

# The benchmarks import each other by name, as `python benchmarks/bench.py` lets them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench  # noqa: E402
import chapter_times  # noqa: E402
import sweeps  # noqa: E402
import timing  # noqa: E402

# Lines as `jupyter-book build` prints them (myst-nb), with the colour codes of a terminal.
BUILD_LOG = """\
\x1b[01mreading sources... \x1b[39;49;00m[ 16%] \x1b[35mchapters/01_background\x1b[39;49;00m
/work/main/chapters/01_background.ipynb: Executing notebook using local CWD [mystnb]
/work/main/chapters/01_background.ipynb: Executed notebook in 8.20 seconds [mystnb]
/work/main/chapters/04_code_examples.ipynb: Executed notebook in 53.38 seconds [mystnb]
/work/main/intro.md: Executed notebook in 99 seconds  (not a notebook: ignored)
"""

# The table of myst-nb's {nb-exec-table}, as the built execution_times.html holds it.
EXECUTION_TIMES_HTML = """\
<table class="table">
<thead>
<tr class="row-odd"><th class="head"><p>Document</p></th>
<th class="head"><p>Modified</p></th>
<th class="head"><p>Method</p></th>
<th class="head"><p>Run Time (s)</p></th>
<th class="head"><p>Status</p></th>
</tr>
</thead>
<tbody>
<tr class="row-even"><td><p><a class="xref doc reference internal"
 href="chapters/01_background.html"><span class="doc">chapters/01_background</span></a></p></td>
<td><p>2026-11-24 00:51</p></td>
<td><p>force</p></td>
<td><p>19.13</p></td>
<td><p>&#x2705;</p></td>
</tr>
<tr class="row-odd"><td><p><a class="xref doc reference internal"
 href="chapters/04_code_examples.html"><span class="doc">chapters/04_code_examples</span>
</a></p></td>
<td><p>2026-11-24 00:55</p></td>
<td><p>force</p></td>
<td><p>148.17</p></td>
<td><p>&#x2705;</p></td>
</tr>
<tr class="row-even"><td><p>broken row</p></td><td><p>-</p></td><td><p>-</p></td>
<td><p>n/a</p></td></tr>
</tbody>
</table>
"""


def test_chapter_times_are_read_from_the_build_log():
    assert chapter_times.chapter_times_from_log(BUILD_LOG) == {
        "01_background.ipynb": 8.20,
        "04_code_examples.ipynb": 53.38,
    }


def test_chapter_times_are_read_from_the_execution_times_page():
    assert chapter_times.chapter_times_from_html(EXECUTION_TIMES_HTML) == {
        "01_background.ipynb": 19.13,
        "04_code_examples.ipynb": 148.17,
    }


def test_chapters_over_budget_are_flagged(capsys):
    chapter_times.print_chapter_times({"a.ipynb": 89.0, "b.ipynb": 91.0}, "test", None)
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:4]}
    assert "over the 90 s budget" not in lines["a.ipynb"]
    assert "over the 90 s budget" in lines["b.ipynb"]
    chapter_times.print_chapter_times({f"{i}.ipynb": 61.0 for i in range(6)}, "test", 400.0)
    out = capsys.readouterr().out
    assert "over the 6 min budget" in out and "400.0 s" in out


@pytest.mark.parametrize(
    ("ratio", "target", "at_least", "met"),
    [(1.2, 1.2, True, True), (1.19, 1.2, True, False), (1.1, 1.1, False, True),
     (1.11, 1.1, False, False)],
)  # fmt: skip
def test_goals_pass_on_the_right_side_of_their_target(ratio, target, at_least, met):
    goal = timing.Goal("g", ratio, target, at_least, 1)
    assert goal.met is met
    assert goal.line().endswith("PASS" if met else "MISS")


def test_a_measurement_without_a_goal_is_printed_not_judged():
    goal = timing.Goal("mlp sweep", 0.9, None, True, 1)
    assert goal.met and goal.line().endswith("0.90x   no goal (measured only)")


def test_paired_ratio_is_the_median_of_each_repeats_ratio():
    # A slow second repeat slows both contenders: per-repeat ratios are 2, 2, 4.
    times = {"a": [2.0, 20.0, 4.0], "b": [1.0, 10.0, 1.0]}
    assert timing.paired_ratio(times, "a", "b") == 2.0
    # The ratio of the medians would be 4 / 1 = 4: pairing is what makes the figure robust.
    assert timing.paired_ratio(times, "b", "a") == 0.5


def test_alternate_takes_turns():
    calls = []
    candidates = {name: (lambda name=name: calls.append(name) or 1.0) for name in "abc"}
    times = timing.alternate(candidates, 2)
    assert calls == ["a", "b", "c", "a", "b", "c"]
    assert times == {"a": [1.0, 1.0], "b": [1.0, 1.0], "c": [1.0, 1.0]}


def test_chapter_report_without_a_build_says_how_to_get_one(tmp_path, capsys):
    chapter_times.report_chapters(tmp_path, nbmake=False, book=False)
    assert "run `make book` or pass --chapters" in capsys.readouterr().out
    (tmp_path / "_build").mkdir()
    (tmp_path / "_build" / "build.log").write_text(BUILD_LOG)
    chapter_times.report_chapters(tmp_path, nbmake=False, book=False)
    out = capsys.readouterr().out
    assert "04_code_examples.ipynb" in out and "53.4 s" in out


def test_the_vmap_contender_trains_the_models_the_sweep_trains():
    """The benchmark compares equal work: same initial weights, minibatches and Adam updates."""
    from test_sweep import tiny_task

    task = tiny_task("mlp", n_train=128)  # float64; two minibatches of 64
    lrs, seeds = (0.003, 0.03), (0, 2)
    _, params = sweeps.vmap_training_seconds(task, lrs, seeds, n_train=128)
    result = sweep.sweep(task, "adam", lrs, seeds, epochs=1, eval_every_epoch=False)
    for name, stacked in result.parameters.items():
        for i in range(len(lrs)):
            for j in range(len(seeds)):
                expected = stacked[j, i]
                initial = task.make_model(seeds[j]).get_parameter(name).detach().double()
                assert not torch.equal(expected, initial)  # trained
                torch.testing.assert_close(
                    params[name][i * len(seeds) + j], expected, rtol=1e-12, atol=1e-14
                )


def test_the_floors_matrix_products_are_the_sweeps():
    """The floor times the products a sweep step computes: its first-layer outputs are the
    sweep's logits (biases zero), and each gradient product is what autograd computes."""
    torch.manual_seed(0)
    n_seeds, n_lrs, batch = 2, 3, 5
    x = torch.randn(n_seeds, batch, 7, dtype=torch.float64)
    weights = [
        torch.randn(n_seeds, n_lrs, 4, 7, dtype=torch.float64, requires_grad=True),
        torch.randn(n_seeds, n_lrs, 3, 4, dtype=torch.float64, requires_grad=True),
    ]
    output_grads = [
        torch.randn(n_seeds, batch, n_lrs * 4, dtype=torch.float64),
        torch.randn(n_seeds * n_lrs, batch, 3, dtype=torch.float64),
    ]
    products = sweeps.matrix_products(x, [w.detach() for w in weights], output_grads)
    assert len(products) == 2 * n_seeds + 3

    zero_bias = torch.zeros(n_seeds, n_lrs, 4, dtype=torch.float64)
    logits = sweep.stacked_logits(
        "logreg", {"linear.weight": weights[0], "linear.bias": zero_bias}, x
    )
    for s in range(n_seeds):
        wide = logits[s].transpose(0, 1).reshape(batch, -1)  # (B, L * out), lr-major columns
        torch.testing.assert_close(products[2 * s], wide)
    (first_grad,) = torch.autograd.grad(
        logits, weights[0], output_grads[0].view(n_seeds, batch, n_lrs, 4).transpose(1, 2)
    )
    for s in range(n_seeds):
        torch.testing.assert_close(products[2 * s + 1], first_grad[s].reshape(n_lrs * 4, 7))

    inputs = torch.ones(n_seeds * n_lrs, batch, 4, dtype=torch.float64, requires_grad=True)
    second = weights[1].reshape(n_seeds * n_lrs, 3, 4)
    outputs = inputs @ second.transpose(1, 2)
    weight_grad, input_grad = torch.autograd.grad(outputs, [weights[1], inputs], output_grads[1])
    forward, weight_product, input_product = products[2 * n_seeds :]
    torch.testing.assert_close(forward, outputs)
    torch.testing.assert_close(weight_product, weight_grad.reshape(n_seeds * n_lrs, 3, 4))
    torch.testing.assert_close(input_product, input_grad)


def test_best_threads_goal_pits_each_contender_at_its_fastest_setting():
    medians = {
        ("mlp", 1): {"sequential": 2.2, "sweep": 2.0},
        ("mlp", 2): {"sequential": 3.0, "sweep": 1.4},  # sequential fits slower with 2 threads
        ("logreg", 1): {"sequential": 1.0, "sweep": 0.3},
    }
    (goal,) = sweeps.best_threads_goals(medians, {"mlp": 1.5, "logreg": 3.0})
    assert goal.ratio == pytest.approx(2.2 / 1.4)  # not 3.0 / 1.4 at two threads
    assert "(2 thr)" in goal.name and "(1 thr)" in goal.name and goal.met
    assert goal.threads == 0  # logreg was measured at one thread count only: skipped


def test_bench_runs_only_the_sections_it_is_asked_for(tmp_path, capsys):
    (tmp_path / "_build").mkdir()
    (tmp_path / "_build" / "build.log").write_text(BUILD_LOG)
    threads = str(torch.get_num_threads())  # bench.main sets it: leave it as it is
    assert bench.main(["--only", "chapters", "--root", str(tmp_path), "--threads", threads]) == 0
    out = capsys.readouterr().out
    assert "4. Chapter execution times (from _build/build.log" in out and "53.4 s" in out
    assert "1. Training loop" not in out and "2. Optimizer step" not in out
    assert out.splitlines()[-1].startswith("Summary (ratios are medians of paired repeats")
