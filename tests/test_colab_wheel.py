"""The Colab path as a reader meets it: a fresh Python with only what Colab ships, the notebook's
own install cell installing the built wheel, no clone on the path, and no network in the kernel.

The test builds the wheel from the working tree, makes a virtual environment holding torch (the
CPU build this machine's pip takes, the same version as the development venv), numpy, matplotlib
and ipykernel, and puts a stub ``google.colab`` in it that a kernel start-up file imports, as Colab
does. It runs, top to bottom in that kernel, the first lab, the first exercise, and chapter 2 (the
page that plots the stored GPU measurements), each from a temporary copy of its Colab ``.ipynb``
whose install cell names the wheel instead of GitHub. The start-up file also refuses every
connection and name lookup outside the loopback, so ``tokenmath.measurements.load`` must read the
files the wheel ships. Everything, pip's cache included, stays in the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from notebook_files import ROOT, install_line

# The lab, exercise and chapter run here (the chapter is the page that loads stored measurements).
NOTEBOOKS = ["notebooks/00_your_machine.ipynb", "exercises/00_warmup.ipynb",
             "book/02_transformer_arithmetic.ipynb"]
MEASUREMENTS = sorted((ROOT / "lib" / "tokenmath" / "data" / "measurements").glob("*.json"))
# What Colab ships that the course uses, besides what installing tokenmath brings (tqdm, safetensors).
COLAB_SHIPS = ["numpy", "matplotlib", "ipykernel"]
# torch as in the development venv: its "+cpu" build is found only where pip is pointed at a local
# CPU wheel (this machine's pip.conf: find-links), never the multi-GB CUDA build of the index.
TORCH = os.environ.get("TOKENMATH_COLAB_TORCH") or f"torch=={metadata.version('torch')}"

STARTUP = '''\
# Written by tests/test_colab_wheel.py: the kernel starts as Colab's does, with google.colab
# imported, and without a network (the kernel's own channels use the loopback).
import socket

import google.colab

google.colab.BLOCKED = []


def _local(host):
    host = host.decode() if isinstance(host, bytes) else str(host)
    return host in ("", "localhost", "::1") or host.startswith("127.")


def _refuse(what):
    google.colab.BLOCKED.append(what)
    raise OSError(f"no network in this test kernel: {what}")


_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
        _refuse(f"connect {address!r}")
    return _connect(self, address)


def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
        _refuse(f"connect {address!r}")
    return _connect_ex(self, address)


def getaddrinfo(host, *args, **kwargs):
    if host is not None and not _local(host):
        _refuse(f"getaddrinfo {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


def gethostbyname(host):
    if not _local(host):
        _refuse(f"gethostbyname {host!r}")
    return "127.0.0.1"


socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
socket.getaddrinfo, socket.gethostbyname = getaddrinfo, gethostbyname
del connect, connect_ex, getaddrinfo, gethostbyname
'''

# Appended to each notebook's copy: where tokenmath came from, what it ships, what was refused.
PROBE = '''\
import json as _json
import socket as _socket
import sys as _sys

import google.colab as _colab
import tokenmath as _tm
from tokenmath import measurements as _m

_blocked = list(_colab.BLOCKED)
try:  # the guard itself works: a lookup of a public name is refused before any traffic
    _socket.create_connection(("pypi.org", 443), timeout=5).close()
    _guard = "connected"
except OSError as _exc:
    _guard = str(_exc)
print("PROBE " + _json.dumps({
    "colab": "google.colab" in _sys.modules,
    "tokenmath": _tm.__file__,
    "prefix": _sys.prefix,
    "names": _m.names(),
    "sweep": _m.load("NVIDIA-H200-roofline-sweep")["device_info"]["name"],
    "blocked": _blocked,
    "guard": _guard,
}))
'''


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def _build_wheel(tmp: Path) -> Path:
    """The wheel of the working tree, built from a copy (so nothing is written into the clone)."""
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(ROOT / "lib", src / "lib", ignore=ignore)
    dist = tmp / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
          str(src), "-w", str(dist)], env=_pip_env(tmp))
    (wheel,) = dist.glob("tokenmath-*.whl")
    return wheel


def _pip_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_CACHE_DIR"] = str(tmp / "pip-cache")
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _colab_venv(tmp: Path) -> Path:
    """A venv with what Colab ships, google.colab as a stub, and the start-up file; its python."""
    venv = tmp / "colab"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", "--no-compile", "--only-binary=:all:", TORCH,
          *COLAB_SHIPS], env=_pip_env(tmp))
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
                .stdout.strip())
    stub = site / "google" / "colab"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('"""A stand-in for Colab\'s module (tests/test_colab_wheel.py)."""\n')
    startup = tmp / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text(STARTUP)
    return python


def _kernel_manager(tmp: Path, python: Path) -> KernelManager:
    kernels = tmp / "kernels"
    spec = kernels / "colab"
    if not spec.exists():
        spec.mkdir(parents=True)
        env = {
            "IPYTHONDIR": str(tmp / "ipython"),
            "MPLCONFIGDIR": str(tmp / "matplotlib"),
            "PIP_CACHE_DIR": str(tmp / "pip-cache"),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PYTHONPATH": "",
            "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        kernel = {"argv": argv, "display_name": "Colab (test)", "language": "python", "env": env}
        (spec / "kernel.json").write_text(json.dumps(kernel))
    ksm = KernelSpecManager(kernel_dirs=[str(kernels)])
    return KernelManager(kernel_name="colab", kernel_spec_manager=ksm)


def _as_on_colab(path: Path, wheel: Path) -> nbformat.NotebookNode:
    """The notebook as Colab opens it, its install cell pointed at the wheel, the probe at the end."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    target = install_line()
    assert code and target in code[0].source, f"{path.name}: no install cell with {target}"
    code[0].source = code[0].source.replace(target, f'"{wheel}"')
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    return nb


def _probe(nb: nbformat.NotebookNode) -> dict:
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("name") == "stdout")
    (line,) = [x for x in text.splitlines() if x.startswith("PROBE ")]
    return json.loads(line.removeprefix("PROBE "))


def test_labs_run_from_the_wheel_as_on_colab():
    if "+cpu" not in TORCH and not os.environ.get("CI"):
        pytest.skip(f"{TORCH} is not a CPU build: installing it could download the CUDA build "
                    "(set TOKENMATH_COLAB_TORCH to a torch requirement pip finds locally)")
    # Not pytest's tmp_path: it keeps the last runs, and the venv weighs over a gigabyte.
    with tempfile.TemporaryDirectory(prefix="tokenmath-colab-", ignore_cleanup_errors=True) as tmp:
        _check_the_colab_path(Path(tmp))


def _check_the_colab_path(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".json")}
    assert shipped == {f"tokenmath/data/measurements/{p.name}" for p in MEASUREMENTS}

    python = _colab_venv(tmp_path)
    before = _run([str(python), "-m", "pip", "list", "--format=freeze"]).stdout
    assert "tokenmath" not in before

    work = tmp_path / "work"  # the kernel's folder: no clone, no lib/ on its path
    work.mkdir()
    for rel in NOTEBOOKS:
        nb = _as_on_colab(ROOT / rel, wheel)
        client = NotebookClient(nb, km=_kernel_manager(tmp_path, python), timeout=600,
                                resources={"metadata": {"path": str(work)}})
        client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
        probe = _probe(nb)
        assert probe["colab"], rel
        assert Path(probe["prefix"]) == python.parent.parent, rel
        site = Path(probe["tokenmath"]).parents[1]
        assert site.name == "site-packages" and str(site).startswith(str(python.parent.parent)), (
            f"{rel}: tokenmath came from {probe['tokenmath']}, not the installed wheel")
        assert probe["names"] == sorted(p.stem for p in MEASUREMENTS), rel
        assert probe["sweep"] == "NVIDIA H200", rel
        assert probe["blocked"] == [], f"{rel} tried the network: {probe['blocked']}"
        assert probe["guard"].startswith("no network in this test kernel"), probe["guard"]
    after = _run([str(python), "-m", "pip", "show", "tokenmath"]).stdout
    assert "Version: " in after
