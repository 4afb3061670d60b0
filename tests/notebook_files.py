"""Where the course's labs and exercises live, and what _config.yml says about the repository."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LABS = sorted((ROOT / "notebooks").glob("*.md"))
EXERCISES = sorted((ROOT / "exercises").glob("*.md"))
# Chapter pages that run code are notebooks too: they are paired and open in Colab like the labs.
CHAPTERS = sorted(
    p for p in (ROOT / "book").glob("*.md") if "kernelspec" in p.read_text()[:1000]
)
PAIRED = CHAPTERS + LABS + EXERCISES


def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def toc_files() -> list[str]:
    """Every file named in _toc.yml, without suffix, in order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return files


def install_line() -> str:
    repo = config()["repository"]
    return f'"tokenmath @ git+{repo["url"]}@{repo["branch"]}"'
