"""tokenmath.explore: the explorer's grid equals the library's own functions, marks what does
not fit and what a part cannot run, rejects bad input, and the numbers book/explorer.md quotes
are the library's."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import pytest
from tokenmath import cost, explore, roofline

ROOT = Path(__file__).resolve().parents[1]
REL = 1e-12


@pytest.fixture(scope="module")
def grid():
    return explore.grid()


SAMPLES = [  # (model, hw, precision, batch, context, chips)
    ("llama-3-8b", "H100-SXM", "bf16", 64, 4096, 1),
    ("llama-3-8b", "T4", "int8-weights", 1, 1024, 1),
    ("llama-3.2-1b", "T4", "bf16", 256, 256, 2),
    ("mistral-7b", "A100-80GB", "int4-weights", 512, 131072, 4),
    ("mixtral-8x7b", "MI300X", "fp8", 8, 8192, 2),
    ("llama-3-70b", "H100-SXM", "bf16", 1, 4096, 8),
    ("llama-3-405b", "B200", "fp8", 4096, 32768, 8),
    ("deepseek-v3", "H200", "fp8", 1024, 4096, 8),
    ("llama-3-8b", "TPU-v5e", "int8-weights", 16, 2048, 4),
]


def _library(model, hw, precision, batch, context, chips):
    w, kv, c = explore.dtypes(precision, hw)
    est = roofline.decode_step(model, hw, batch, context, weight_dtype=w, kv_dtype=kv,
                               compute_dtype=c, n_chips=chips)
    limit = roofline.max_batch(model, hw, context, weight_dtype=w, kv_dtype=kv, n_chips=chips)
    return est, limit


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: "-".join(map(str, s)))
def test_grid_and_point_equal_the_library(grid, sample):
    est, limit = _library(*sample)
    for p in (grid.lookup(*sample), explore.point(*sample[:5], n_chips=sample[5])):
        assert p.step_s == pytest.approx(est.time_s, rel=REL)
        assert p.bound == est.bound
        assert p.tokens_per_s == pytest.approx(est.tokens_per_s, rel=REL)
        assert p.chip_s_per_token == pytest.approx(cost.chip_seconds_per_token(est), rel=REL)
        assert p.usd_per_mtok(3.0) == pytest.approx(cost.per_million_tokens(est, 3.0), rel=REL)
        assert p.max_batch == limit
        assert p.fits == (sample[3] <= limit)


def test_more_chips_divide_the_step_and_keep_the_cost(grid):
    one = grid.lookup("llama-3-70b", "H200", "bf16", 64, 4096, 1)
    eight = grid.lookup("llama-3-70b", "H200", "bf16", 64, 4096, 8)
    assert eight.step_s == pytest.approx(one.step_s / 8, rel=REL)
    assert eight.chip_s_per_token == pytest.approx(one.chip_s_per_token, rel=REL)
    assert one.max_batch == 0  # 141 GB of bf16 weights, 141 GB of HBM
    assert eight.max_batch == roofline.max_batch("llama-3-70b", "H200", 4096, n_chips=8) > 700


def test_dtypes_of_each_recipe():
    assert explore.dtypes("bf16", "H100-SXM") == ("bf16", "bf16", "bf16")
    assert explore.dtypes("bf16", "T4") == ("fp16", "fp16", "fp16")  # no bf16 on a T4
    assert explore.dtypes("int8-weights", "T4") == ("int8", "fp16", "fp16")
    assert explore.dtypes("int4-weights", "h100") == ("int4", "bf16", "bf16")
    assert explore.dtypes("fp8", "H200") == ("fp8", "fp8", "fp8")
    with pytest.raises(ValueError, match="A100-80GB has no fp8"):
        explore.dtypes("fp8", "A100-80GB")


def test_unsupported_recipes_are_marked(grid):
    off = {(a, p) for (m, a, p), c in grid.cells.items() if c.unsupported and m == "llama-3-8b"}
    assert off == {("T4", "fp8"), ("A100-80GB", "fp8"), ("TPU-v5e", "fp8")}
    cell = grid.cells[("llama-3-8b", "T4", "fp8")]
    assert cell.unsupported.startswith("T4 has no fp8 FLOP/s") and cell.step_s == ()
    with pytest.raises(ValueError, match="T4 has no fp8"):
        grid.lookup("llama-3-8b", "T4", "fp8", 1, 1024)
    assert grid.n_points == 30030  # 231 supported cells x 13 batches x 10 contexts


def test_infeasible_points_are_marked(grid):
    # Llama-3-70B's 141 GB of bf16 weights do not fit in one 80 GB H100: nothing fits.
    p = grid.lookup("llama-3-70b", "H100-SXM", "bf16", 1, 256)
    assert p.max_batch == 0 and not p.fits and math.isfinite(p.step_s)
    # Llama-3-8B on one H100 at 4K: 119 sequences fit, 128 do not.
    assert grid.lookup("llama-3-8b", "H100-SXM", "bf16", 64, 4096).fits
    big = grid.lookup("llama-3-8b", "H100-SXM", "bf16", 128, 4096)
    assert (big.max_batch, big.fits) == (119, False)
    # The table of a cell: fits shrink with the context and grow with the chips.
    table = grid.cells[("llama-3-8b", "H100-SXM", "bf16")].max_batch
    assert all(a[k] >= b[k] for a, b in zip(table, table[1:]) for k in range(4))
    assert all(row[k] <= row[k + 1] for row in table for k in range(3))


def test_bound_changes_where_the_library_says(grid):
    cell = grid.cells[("llama-3-8b", "H100-SXM", "fp8")]
    row = cell.bound[0]  # context 256: compute-bound from some batch on
    assert row.startswith("m") and row.endswith("c") and "cm" not in row
    b_star = roofline.balance_batch("llama-3-8b", "H100-SXM", 256, weight_dtype="fp8")
    first_c = grid.batches[row.index("c")]
    assert first_c / 2 < b_star <= first_c


def test_grid_is_fast_and_small(grid):
    t = time.perf_counter()
    explore.grid()
    elapsed = time.perf_counter() - t
    assert elapsed < 10, f"the grid took {elapsed:.1f} s (about 0.6 s on one free core)"
    assert len(grid.models) * len(grid.accelerators) * len(grid.precisions) == len(grid.cells)


def test_a_smaller_grid(grid):
    small = explore.grid(["llama-3-8b"], ["h100"], ["bf16"], [1, 3], [100], [1, 3])
    assert list(small.cells) == [("llama-3-8b", "H100-SXM", "bf16")]
    p = small.lookup("llama-3-8b", "H100-SXM", "bf16", 3, 100, 3)
    est, limit = _library("llama-3-8b", "H100-SXM", "bf16", 3, 100, 3)
    assert p.step_s == pytest.approx(est.time_s, rel=REL) and p.max_batch == limit


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(models=["gpt-5"]), "model='gpt-5' is not a preset"),
        (dict(accelerators=["H900"]), "hw='H900' is not in the catalog"),
        (dict(precisions=["fp4"]), "precision='fp4' is not known"),
        (dict(batches=[1, 4, 2]), "batches must be non-empty and strictly increasing"),
        (dict(batches=[]), "batches must be non-empty"),
        (dict(batches=[0, 1]), "batches must be a positive integer"),
        (dict(contexts=[1024.5]), "contexts must be a positive integer"),
        (dict(contexts="1024"), "contexts must be a sequence"),
        (dict(chips=[1, True]), "chips must be a positive integer"),
        (dict(models=["llama-3-8b", "Llama-3-8B"]), "models must be non-empty without repeats"),
        (dict(models="llama-3-8b"), "models must be a sequence of names"),
    ],
)
def test_bad_grid_input_raises_value_error(kwargs, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        explore.grid(**kwargs)


@pytest.mark.parametrize(
    "args, match",
    [
        (("llama-3-8b", "H100-SXM", "bf16", 3, 4096), "batch=3 is not on the grid"),
        (("llama-3-8b", "H100-SXM", "bf16", 4, 5000), "context=5000 is not on the grid"),
        (("llama-3-8b", "H100-SXM", "bf16", 4, 4096, 3), "n_chips=3 is not on the grid"),
        (("llama-3-8b", "H100-SXM", "int2", 4, 4096), "precision='int2' is not known"),
        (("llama", "H100-SXM", "bf16", 4, 4096), "model='llama' is not a preset"),
    ],
)
def test_bad_lookup_raises_value_error(grid, args, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        grid.lookup(*args)


def test_bad_point_input_raises_value_error():
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        explore.point("llama-3-8b", "H100-SXM", "bf16", 0, 1024)
    with pytest.raises(ValueError, match="context must be a positive integer"):
        explore.point("llama-3-8b", "H100-SXM", "bf16", 1, 0)
    with pytest.raises(ValueError, match="price_per_hour must be >= 0"):
        explore.point("llama-3-8b", "H100-SXM").usd_per_mtok(-1)
    assert explore.model_key("Llama_3_8B") == "llama-3-8b"
    assert explore.hw_key("h100") == "H100-SXM"


# ----------------------------------------------------------------------------- book/explorer.md


def _sig3(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.{2 - math.floor(math.log10(x))}f}"


def _ms(*a, **k) -> str:
    return _sig3(explore.point(*a, **k).step_s * 1e3)


def _usd(*a, **k) -> str:
    return _sig3(explore.point(*a, **k).usd_per_mtok(2.0))


def test_the_numbers_the_book_page_quotes_are_the_librarys():
    text = (ROOT / "book" / "explorer.md").read_text().replace("\\$", "$")
    text = " ".join(text.split())
    h100, p8 = ("llama-3-8b", "H100-SXM", "bf16"), ("llama-3-8b", "H100-SXM")
    b1, b256 = explore.point(*h100, 1, 1024), explore.point(*h100, 256, 1024)
    seventy = [explore.point("llama-3-70b", "H100-SXM", "bf16", 1, 4096, n_chips=n)
               for n in (1, 2, 8)]
    ds = [("deepseek-v3", "H200", "fp8", b, 4096) for b in (1, 64, 1024)]
    expected = [
        f"grid of {explore.grid().n_points:,} decode steps",
        f"A step takes {_ms(*h100, 64, 4096)} ms and costs ${_usd(*h100, 64, 4096)} per million "
        f"tokens; the largest batch that fits is {explore.point(*h100, 64, 4096).max_batch}",
        f"The step goes from {_ms(*h100, 1, 1024)} ms to {_ms(*h100, 256, 1024)} ms, "
        f"{b256.step_s / b1.step_s:.1f} times longer",
        f"the cost falls from ${_usd(*h100, 1, 1024)} to ${_usd(*h100, 256, 1024)} per million "
        f"tokens, {b1.usd_per_mtok(2) / b256.usd_per_mtok(2):.0f} times less",
        f"grows from {_ms(*h100, 64, 4096)} ms to {_ms(*h100, 64, 32768)} ms and the cost to "
        f"${_usd(*h100, 64, 32768)} per million tokens; only "
        f"{explore.point(*h100, 64, 32768).max_batch} sequences",
        f"Mistral-7B's step stays at {_ms('mistral-7b', 'H100-SXM', 'bf16', 64, 4096)} ms",
        f"drops from {_ms(*p8, 'bf16', 1, 4096)} ms to {_ms(*p8, 'int4-weights', 1, 4096)} ms",
        f"drops only from {_ms(*p8, 'bf16', 64, 4096)} ms to "
        f"{_ms(*p8, 'int4-weights', 64, 4096)} ms",
        f"two chips hold them and {seventy[1].max_batch} sequences of 4,096 tokens, eight chips "
        f"{seventy[2].max_batch}",
        f"costs ${_sig3(seventy[0].usd_per_mtok(2))} per million on 1 (as if the weights "
        "fitted), 2 or 8 chips",
        "(" + ", ".join(_sig3(p.step_s * 1e3) for p in seventy) + " ms)",
        f"batch 64 on 8 chips costs "
        f"${_usd('llama-3-70b', 'H100-SXM', 'bf16', 64, 4096, n_chips=8)}",
        f"A step takes {_ms(*ds[0], n_chips=8)} ms at batch 1, {_ms(*ds[1], n_chips=8)} ms at "
        f"batch 64 and {_ms(*ds[2], n_chips=8)} ms at batch 1,024",
        f"falls from ${_usd(*ds[0], n_chips=8)} to ${_usd(*ds[1], n_chips=8)} to "
        f"${_usd(*ds[2], n_chips=8)}",
    ]
    costs = [p.usd_per_mtok(2) for p in seventy]
    assert costs == pytest.approx([costs[0]] * 3, rel=REL)
    assert explore.point("mistral-7b", "H100-SXM", "bf16", 64, 131072).step_s == pytest.approx(
        explore.point("mistral-7b", "H100-SXM", "bf16", 64, 4096).step_s, rel=REL)
    missing = [e for e in expected if e not in text]
    assert not missing, "book/explorer.md does not say (or no longer matches):\n" + "\n".join(
        missing)
