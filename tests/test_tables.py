"""tokenmath.tables: wide results as Markdown tables."""

from __future__ import annotations

from tokenmath.tables import md_table


def test_markdown_table_layout_and_rendering():
    t = md_table(["model", "B", "ms"], [("llama-3-8b", 1, 4.52), ("llama-3-70b", 64, 7.05)])
    assert str(t).splitlines() == [
        "| model | B | ms |",
        "|---|---:|---:|",
        "| llama-3-8b | 1 | 4.52 |",
        "| llama-3-70b | 64 | 7.05 |",
    ]
    assert t._repr_markdown_() == str(t)  # what Jupyter and the book render
