"""Wide results as Markdown tables, so a page shows them in the text column (standard library)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["MarkdownTable", "md_table"]


@dataclass(frozen=True)
class MarkdownTable:
    """A table as Markdown text; Jupyter and the book render it as a table."""

    text: str

    def _repr_markdown_(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text


def md_table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> MarkdownTable:
    """A Markdown table: the first column left-aligned, the others right-aligned (numbers)."""
    lines = ["| " + " | ".join(str(h) for h in header) + " |",
             "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return MarkdownTable("\n".join(lines))
