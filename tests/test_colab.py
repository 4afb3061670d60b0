"""Every lab and exercise opens in Colab: paired .ipynb, install cell, repository settings agree."""

from __future__ import annotations

import json

import jupytext
import pytest
from notebook_files import PAIRED, ROOT, config, install_line, toc_files

IDS = [str(p.relative_to(ROOT)) for p in PAIRED]


def test_there_are_labs_and_exercises():
    assert any(p.parent.name == "notebooks" for p in PAIRED)
    assert any(p.parent.name == "exercises" for p in PAIRED)


def test_repository_settings():
    repo = config()["repository"]
    assert repo["url"].startswith("https://github.com/")
    assert repo["branch"] == "main"
    assert config()["launch_buttons"]["colab_url"] == "https://colab.research.google.com"


@pytest.mark.parametrize("md", PAIRED, ids=IDS)
def test_paired_ipynb_exists_without_outputs(md):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.exists(), f"{md.name} has no paired {ipynb.name}: run `jupytext --sync {md}`"
    nb = json.loads(ipynb.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{ipynb.name} has outputs: commit it output-free (nbstripout)"
            )


@pytest.mark.parametrize("md", PAIRED, ids=IDS)
def test_ipynb_cells_match_markdown(md):
    def cells(nb):
        return [(c.cell_type, c.source.strip()) for c in nb.cells]

    assert cells(jupytext.read(md)) == cells(jupytext.read(md.with_suffix(".ipynb"))), (
        f"{md.name} and its .ipynb differ: run `jupytext --sync {md}`"
    )


@pytest.mark.parametrize("md", PAIRED, ids=IDS)
def test_first_code_cell_installs_from_the_configured_repository(md):
    nb = jupytext.read(md)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "remove-cell" in first.metadata.get("tags", []), "the install cell must be hidden"
    assert 'if "google.colab" in sys.modules:' in first.source, "install only on Colab"
    assert f"%pip install -q {install_line()}" in first.source, (
        f"the install cell must match _config.yml's repository: {install_line()}"
    )


@pytest.mark.parametrize("md", PAIRED, ids=IDS)
def test_gpu_metadata_survives_the_pairing(md):
    text_meta = jupytext.read(md).metadata
    ipynb_meta = json.loads(md.with_suffix(".ipynb").read_text())["metadata"]
    for key in ("accelerator", "colab"):
        assert text_meta.get(key) == ipynb_meta.get(key)
    if md.parent.name == "notebooks" and "accelerator" in text_meta:
        assert text_meta["accelerator"] == "GPU"
        assert text_meta["colab"]["gpuType"] == "T4"


def test_gpu_labs_ask_for_a_gpu():
    # The first lab measures the device: it should open on a Colab GPU.
    meta = jupytext.read(ROOT / "notebooks" / "00_your_machine.md").metadata
    assert meta["accelerator"] == "GPU"


@pytest.mark.parametrize("md", PAIRED, ids=IDS)
def test_every_notebook_is_in_the_toc(md):
    assert str(md.relative_to(ROOT).with_suffix("")) in toc_files()
