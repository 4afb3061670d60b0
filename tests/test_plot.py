"""tokenmath.plot: each figure has the expected artists, and saves a PNG."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from tokenmath import plot  # noqa: E402
from tokenmath.roofline import decode_step  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _saved_png(fig: Figure, tmp_path) -> bytes:
    path = tmp_path / "fig.png"
    fig.savefig(path, dpi=50)
    return path.read_bytes()[:8]


def test_roofline_chart(tmp_path):
    e = decode_step("llama-3-8b", "h100", 64, 1024)
    ax = plot.roofline_chart("h100", points=[(e.intensity, e.flops / e.time_s, "B=64")])
    assert len(ax.get_lines()) == 2  # roof, ridge
    assert len(ax.collections) == 1  # one measured point
    labels = ax.get_legend_handles_labels()[1]
    assert any("ridge 295" in s for s in labels) and "B=64" in labels
    # the roof is flat at the peak to the right of the ridge
    x, y = ax.get_lines()[0].get_data()
    assert max(y) == pytest.approx(989)
    assert _saved_png(ax.figure, tmp_path) == PNG_MAGIC


def test_roofline_chart_on_given_axes():
    fig = Figure()
    ax = fig.add_subplot()
    assert plot.roofline_chart("a100", ax=ax) is ax


@pytest.mark.parametrize("stacked, n_lines, n_fills", [(False, 4, 0), (True, 2, 2)])
def test_step_time_vs_batch(tmp_path, stacked, n_lines, n_fills):
    ax = plot.step_time_vs_batch("llama-3-8b", "h100", 1024, [1, 4, 16, 64, 256], stacked=stacked)
    assert len(ax.get_lines()) == n_lines
    assert len(ax.collections) == n_fills
    labels = ax.get_legend_handles_labels()[1]
    for word in ("weights", "KV cache", "compute", "step time"):
        assert any(word in s for s in labels)
    top = ax.get_lines()[-1].get_ydata()  # the max line, in ms
    assert top[0] == pytest.approx(decode_step("llama-3-8b", "h100", 1, 1024).time_s * 1e3)
    assert _saved_png(ax.figure, tmp_path) == PNG_MAGIC


def test_step_time_vs_context(tmp_path):
    ctx = [0, 4096, 16384, 65536]
    ax = plot.step_time_vs_context("llama-3-70b", "h100", [1, 32], ctx, n_chips=8)
    lines = ax.get_lines()
    assert len(lines) == 5  # time and compute per batch, and the legend's compute entry
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["batch 1", "batch 32", "compute alone"]
    xs, ys = lines[2].get_data()  # batch 32, step time
    assert list(xs) == [s / 1e3 for s in ctx]
    for s, y in zip(ctx, ys):
        assert y == pytest.approx(decode_step("llama-3-70b", "h100", 32, s, n_chips=8).time_s * 1e3)
    # memory-bound: a straight line of slope B k_B / (n W) per token
    slope = (ys[3] - ys[2]) / (ctx[3] - ctx[2]) * 1e-3  # seconds per token
    assert slope == pytest.approx(32 * 327680 / (8 * 3.35e12), rel=1e-6)
    assert _saved_png(ax.figure, tmp_path) == PNG_MAGIC


def test_step_time_vs_context_stops_where_the_cache_no_longer_fits():
    ctx = [1024 * 2**i for i in range(8)]  # up to 131,072
    ax = plot.step_time_vs_context("llama-3-70b", "h100", [1, 128], ctx, n_chips=8,
                                   fits_only=True)
    one, many = ax.get_lines()[0].get_xdata(), ax.get_lines()[2].get_xdata()
    assert len(one) == len(ctx)
    from tokenmath import roofline
    assert all(roofline.max_batch("llama-3-70b", "h100", int(s * 1e3), n_chips=8) >= 128
               for s in many)
    assert len(many) < len(ctx)


def test_cost_vs_batch(tmp_path):
    ax = plot.cost_vs_batch("llama-3-8b", "h100", [1024, 8192])
    lines = ax.get_lines()
    assert len(lines) == 2
    assert ax.get_legend_handles_labels()[1] == ["context 1024", "context 8192"]
    xs, ys = lines[0].get_data()
    assert list(ys) == sorted(ys, reverse=True)  # cost falls with batch
    assert max(lines[1].get_xdata()) < max(xs)  # longer context: fewer batches fit
    assert _saved_png(ax.figure, tmp_path) == PNG_MAGIC


def test_cost_vs_context(tmp_path):
    ax = plot.cost_vs_context("llama-3-8b", "h100", [1, 64], [256, 1024, 4096], price_per_hour=3.0)
    assert len(ax.get_lines()) == 2
    ys = ax.get_lines()[1].get_ydata()
    assert list(ys) == sorted(ys)  # cost grows with context
    assert "$3/chip-hour" in ax.get_ylabel()
    assert _saved_png(ax.figure, tmp_path) == PNG_MAGIC


def test_cost_needs_a_price():
    with pytest.raises(ValueError, match="price_per_hour"):
        plot.cost_vs_batch("llama-3-8b", "mi300x", 1024)


def test_estimate_figure(tmp_path):
    fig = plot.estimate_figure("llama-3-8b", "h100", [1, 8, 64], [1024, 8192])
    left, right = fig.axes
    assert len(left.get_lines()) == len(right.get_lines()) == 2
    assert "$" in right.get_ylabel()
    fig2 = plot.estimate_figure("llama-3-8b", "mi300x", [1, 8], [1024])
    assert fig2.axes[1].get_ylabel() == "tokens/s"
    assert _saved_png(fig, tmp_path) == PNG_MAGIC


def test_geometric_batches():
    bs = plot.geometric_batches(1000)
    assert bs[0] == 1 and bs[-1] == 1000 and bs == sorted(set(bs))
    assert plot.geometric_batches(1) == [1]
    with pytest.raises(ValueError, match="max_b"):
        plot.geometric_batches(0)


def _bench_report():
    rows = []
    for s in (512, 2048):
        for b in (1, 4, 16):
            rows.append(
                dict(
                    batch=b,
                    context=s,
                    mode="graph",
                    skipped=None,
                    step_time_s=1e-3 * (2 + b),
                    roofline_datasheet_s=1e-3 * (1 + b),
                    roofline_calibrated_s=1.1e-3 * (1 + b),
                )
            )
    rows.append(dict(batch=64, context=512, mode="graph", skipped="does not fit"))
    return {"model": "llama-3-8b", "dtype": "bf16", "device_info": {"name": "GPU"}, "results": rows}


def test_measured_vs_roofline(tmp_path):
    ax = plot.measured_vs_roofline(_bench_report())
    # per context: measured, datasheet, calibrated; plus two legend-only lines
    assert len(ax.get_lines()) == 2 * 3 + 2
    x, y = ax.get_lines()[0].get_data()
    assert list(x) == [1, 4, 16] and y[0] == pytest.approx(3.0)  # ms; the skipped row is left out
    assert "S = 512" in ax.get_legend_handles_labels()[1]
    assert _saved_png(ax.figure, tmp_path) == PNG_MAGIC
    only = plot.measured_vs_roofline(_bench_report(), contexts=[2048], calibrated=False)
    assert len(only.get_lines()) == 2 + 1


def test_measured_vs_roofline_with_a_fixed_cost(tmp_path):
    ax = plot.measured_vs_roofline(_bench_report(), overhead=True)
    # per context: measured, datasheet, calibrated, calibrated + t0; three legend-only lines
    assert len(ax.get_lines()) == 2 * 4 + 3
    # measured = 2 + b ms, calibrated = 1.1 (1 + b) ms: t0 = mean over b = 1, 1, 4 at S = 512, 2048
    t0_ms = sum(2 + b - 1.1 * (1 + b) for b in (1, 1, 4)) / 3
    x, y = ax.get_lines()[3].get_data()
    assert list(x) == [1, 4, 16] and y[0] == pytest.approx(1.1 * 2 + t0_ms)
    assert f"t0 = {t0_ms:.2f} ms" in ax.get_legend_handles_labels()[1][-1]
    assert _saved_png(ax.figure, tmp_path) == PNG_MAGIC
    lean = plot.measured_vs_roofline(_bench_report(), overhead=True, datasheet=False)
    assert len(lean.get_lines()) == 2 * 3 + 2
    assert "roofline, datasheet" not in lean.get_legend_handles_labels()[1]


def test_measured_vs_roofline_bad_input():
    uncalibrated = _bench_report()
    for r in uncalibrated["results"]:
        r["roofline_calibrated_s"] = None
    with pytest.raises(ValueError, match="no fixed cost per step"):
        plot.measured_vs_roofline(uncalibrated, overhead=True)
    with pytest.raises(ValueError, match="mode 'compiled'"):
        plot.measured_vs_roofline(_bench_report(), mode="compiled")
    with pytest.raises(ValueError, match="context 999"):
        plot.measured_vs_roofline(_bench_report(), contexts=[999])
