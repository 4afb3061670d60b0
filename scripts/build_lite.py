"""Build the exercises' JupyterLite site into the built book (``make book`` runs it).

    python scripts/build_lite.py [OUTPUT_DIR]      # default: _build/html/lite

Every exercise page's rocket button -> JupyterLite (``_ext/lite_button.py``) opens
``lite/notebooks/index.html?path=exercises/NAME.ipynb``: the paired, output-free notebook in
JupyterLab's notebook interface, with a Python kernel (Pyodide: CPython compiled to WebAssembly)
running in the reader's browser and ``tokenmath``'s standard-library part already installed, so
Run All grades the page there. Nothing is fetched from anywhere but the book's own site.

Where each piece comes from (package registries only; versions pinned):

* the Lite app and the Pyodide kernel: ``jupyterlite-core`` and ``jupyterlite-pyodide-kernel``
  (PyPI, in the ``dev`` extra);
* the Pyodide runtime: the npm package ``pyodide`` at the version the kernel was built for
  (``PYODIDE_VERSION``), fetched with ``npm pack`` and checked against its pinned integrity;
  only the runtime files are served (no source maps, no console pages);
* the Python wheels the kernel loads as it starts (micropip, IPython and its dependencies, jedi,
  parso; comm for piplite): the npm package holds the lock file but not the wheels, so they come
  from PyPI (``lite/requirements.txt``, pinned with hashes, at the lock's versions), and the lock
  served names those files with their sha256;
* ``tokenmath``: a wheel of its standard-library modules (:data:`LITE_MODULES`: the math and
  ``checks``), written here from ``lib/tokenmath`` and added to the served lock, so the kernel
  loads it at start (``loadPyodideOptions.packages``).

Downloads are cached in ``_build/lite-cache``; the Lite build's own working folder is
``_build/lite-src``. A rebuild with a warm cache takes about 15 s. JupyterLite keeps what the
reader types in the browser's storage (IndexedDB) of the site's origin.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "lib" / "tokenmath"
BUILD = ROOT / "_build"
CACHE = BUILD / "lite-cache"
SRC = BUILD / "lite-src"
REQUIREMENTS = ROOT / "lite" / "requirements.txt"

#: npm's integrity of pyodide@PYODIDE_NPM (``npm view pyodide@314.0.6 dist.integrity``).
PYODIDE_NPM = "314.0.6"
PYODIDE_INTEGRITY = (
    "sha512-BKDTJyIqFxC4BExLqeRS3f5xvXZIjOt8C3zGLN/Cc7tFxSwvKVhVkchQQ2AGLOtR4YrVOIFxbV8poyDOOmWwxQ=="
)
#: The runtime files of the npm package that the kernel needs.
PYODIDE_FILES = (
    "pyodide.mjs",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "package.json",
)
#: Lock packages the kernel loads as it starts (with their dependencies from the lock).
KERNEL_PACKAGES = ("micropip", "ipython", "jedi")
#: Wheels the kernel installs with piplite, from PyPI, that are not in the lock.
PIPLITE_PACKAGES = ("comm",)

#: tokenmath's modules that use the standard library only (tests/test_layers.py checks that they
#: import neither torch, numpy nor matplotlib; tests/test_lite.py that the wheel imports with
#: nothing but the standard library and that every exercise needs nothing else).
LITE_MODULES = (
    "__init__",
    "validate",
    "dtypes",
    "hardware",
    "models",
    "roofline",
    "cost",
    "serving",
    "tiers",
    "paging",
    "tables",
    "explore",
)

#: The kernel's settings: no PyPI fallback (the site is self-contained), tokenmath loaded at start.
KERNEL_SETTINGS = {
    "disablePyPIFallback": True,
    "loadPyodideOptions": {"packages": ["micropip", "tokenmath"]},
}
#: JupyterLab settings: start the notebook's kernel without asking which one; keep every cell
#: of these short notebooks on the page (no windowing: a search in the page finds any cell);
#: save the reader's work to the browser's storage every 10 s (and on Ctrl+S), not every 2 min.
SETTINGS_OVERRIDES = {
    "@jupyterlab/notebook-extension:tracker": {
        "autoStartDefaultKernel": True,
        "windowingMode": "none",
    },
    "@jupyterlab/docmanager-extension:plugin": {"autosaveInterval": 10},
}
APPS = ("notebooks",)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(cmd: list[str], quiet: bool = False, **kwargs) -> None:
    """Run ``cmd``; a quiet one shows its output only when it fails."""
    print("+", " ".join(str(c) for c in cmd), flush=True)
    if not quiet:
        subprocess.run(cmd, check=True, **kwargs)
        return
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if done.returncode:
        sys.stdout.write(done.stdout[-6000:] + done.stderr[-6000:])
        raise SystemExit(f"build_lite: {cmd[2]} {cmd[3]} failed ({done.returncode})")


def pyodide_tarball() -> Path:
    """The npm package of the Pyodide runtime, fetched once and checked against its integrity."""
    tgz = CACHE / f"pyodide-{PYODIDE_NPM}.tgz"
    if not tgz.exists():
        if shutil.which("npm") is None:
            raise SystemExit("build_lite: needs npm to fetch the Pyodide runtime "
                             "(Debian: apt-get install npm)")
        CACHE.mkdir(parents=True, exist_ok=True)
        _run(["npm", "pack", f"pyodide@{PYODIDE_NPM}", "--pack-destination", str(CACHE),
              "--loglevel=warn"],
             stdout=subprocess.DEVNULL)
    algo, digest = PYODIDE_INTEGRITY.split("-", 1)
    got = base64.b64encode(hashlib.new(algo, tgz.read_bytes()).digest()).decode()
    if got != digest:
        tgz.unlink()
        raise SystemExit(f"build_lite: {tgz.name} does not match its pinned integrity")
    return tgz


def read_requirements() -> dict[str, tuple[str, str]]:
    """``lite/requirements.txt`` as {normalized name: (version, sha256)}."""
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)\s+--hash=sha256:([0-9a-f]{64})", line)
        if not m:
            raise SystemExit(f"build_lite: cannot read {REQUIREMENTS.name}: {line!r}")
        pins[_norm(m[1])] = (m[2], m[3])
    return pins


def kernel_closure(lock: dict) -> list[str]:
    """The lock's names of KERNEL_PACKAGES and everything they depend on."""
    packages = {_norm(k): k for k in lock["packages"]}
    todo, seen = [_norm(p) for p in KERNEL_PACKAGES], []
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.append(name)
            todo += [_norm(d) for d in lock["packages"][packages[name]]["depends"]]
    return sorted(packages[n] for n in seen)


def fetch_wheels(names: list[str], pins: dict[str, tuple[str, str]]) -> dict[str, Path]:
    """PyPI wheels of ``names`` at their pinned versions and hashes (pip checks the hashes)."""
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    reqs = CACHE / "requirements.txt"
    reqs.write_text("".join(f"{n}=={pins[_norm(n)][0]} --hash=sha256:{pins[_norm(n)][1]}\n"
                            for n in names))
    have = {_norm(p.name.split("-")[0]): p for p in wheels.glob("*.whl")}
    if any(_norm(n) not in have or _sha256(have[_norm(n)]) != pins[_norm(n)][1] for n in names):
        _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--require-hashes",
              "--only-binary=:all:", "--platform", "any", "--python-version", "3.14",
              "--implementation", "py", "--abi", "none", "-d", str(wheels), "-r", str(reqs)])
        have = {_norm(p.name.split("-")[0]): p for p in wheels.glob("*.whl")}
    out = {}
    for n in names:
        path = have[_norm(n)]
        if _sha256(path) != pins[_norm(n)][1]:
            raise SystemExit(f"build_lite: {path.name} does not match its pinned sha256")
        out[n] = path
    return out


def tokenmath_wheel(dest: Path) -> Path:
    """A wheel of tokenmath's standard-library modules (LITE_MODULES and ``checks``)."""
    version = re.search(r'^__version__ = "([^"]+)"', (LIB / "__init__.py").read_text(), re.M)[1]
    files = [LIB / f"{m}.py" for m in LITE_MODULES] + sorted((LIB / "checks").glob("*.py"))
    dist = f"tokenmath-{version}.dist-info"
    meta = {
        f"{dist}/METADATA": (
            f"Metadata-Version: 2.1\nName: tokenmath\nVersion: {version}\n"
            "Summary: tokenmath's standard-library modules, for the book's JupyterLite site\n"
        ),
        f"{dist}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: scripts/build_lite.py\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
    }
    entries = {f"tokenmath/{p.relative_to(LIB).as_posix()}": p.read_bytes() for p in files}
    entries.update({k: v.encode() for k, v in meta.items()})
    record = []
    for name, data in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    entries[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = dest / f"tokenmath-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():  # fixed dates: the same tree gives the same wheel
            zf.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return path


def _lock_entry(name: str, version: str, wheel: Path, imports: list[str], depends: list[str]):
    return {
        "name": name,
        "version": version,
        "file_name": wheel.name,
        "install_dir": "site",
        "sha256": _sha256(wheel),
        "package_type": "package",
        "imports": imports,
        "depends": depends,
        "unvendored_tests": False,
    }


def stage(src: Path) -> None:
    """Lay out the Lite build's working folder: Pyodide, its lock and wheels, contents, config."""
    import jupyterlite_pyodide_kernel.constants as kc

    if kc.PYODIDE_VERSION != PYODIDE_NPM:
        raise SystemExit(f"build_lite: jupyterlite-pyodide-kernel wants Pyodide "
                         f"{kc.PYODIDE_VERSION}, this script serves {PYODIDE_NPM}")
    shutil.rmtree(src, ignore_errors=True)  # with the Lite build's task database: build afresh
    pyodide = src / "static" / "pyodide"
    pyodide.mkdir(parents=True)
    with tarfile.open(pyodide_tarball()) as tf:
        lock = json.load(tf.extractfile("package/pyodide-lock.json"))
        for name in PYODIDE_FILES:
            (pyodide / name).write_bytes(tf.extractfile(f"package/{name}").read())

    pins = read_requirements()
    closure = kernel_closure(lock)
    wanted = {_norm(n) for n in closure} | {_norm(n) for n in PIPLITE_PACKAGES}
    if set(pins) != wanted:
        raise SystemExit(f"build_lite: {REQUIREMENTS.name} should pin exactly {sorted(wanted)}")
    for name in closure:
        if pins[_norm(name)][0] != lock["packages"][name]["version"]:
            raise SystemExit(f"build_lite: {name} is {lock['packages'][name]['version']} in the "
                             f"lock, {pins[_norm(name)][0]} in {REQUIREMENTS.name}")
    wheels = fetch_wheels(closure + list(PIPLITE_PACKAGES), pins)

    # The lock served: only the packages served, each naming the file served and its sha256.
    packages = {}
    for name in closure:
        entry = dict(lock["packages"][name])
        shutil.copy2(wheels[name], pyodide / wheels[name].name)
        entry.update(file_name=wheels[name].name, sha256=_sha256(wheels[name]),
                     unvendored_tests=False)
        packages[name] = entry
    tm = tokenmath_wheel(pyodide)
    version = tm.name.split("-")[1]
    packages["tokenmath"] = _lock_entry("tokenmath", version, tm, ["tokenmath"], [])
    (pyodide / "pyodide-lock.json").write_text(
        json.dumps({"info": lock["info"], "packages": packages}, indent=1, sort_keys=True))

    (src / "pypi").mkdir()
    for name in PIPLITE_PACKAGES:
        shutil.copy2(wheels[name], src / "pypi" / wheels[name].name)

    files = src / "files" / "exercises"
    files.mkdir(parents=True)
    for nb in sorted((ROOT / "exercises").glob("*.ipynb")):
        shutil.copy2(nb, files / nb.name)

    config = {
        "jupyter-lite-schema-version": 0,
        "jupyter-config-data": {
            "appName": "The Cost of a Token: exercises",
            "litePluginSettings": {kc.PYODIDE_KERNEL_PLUGIN_ID: KERNEL_SETTINGS},
        },
    }
    (src / "jupyter-lite.json").write_text(json.dumps(config, indent=1))
    (src / "overrides.json").write_text(json.dumps(SETTINGS_OVERRIDES, indent=1))


def build(output: Path) -> None:
    stage(SRC)
    ext = (Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyterlite"
           / "pyodide-kernel-extension")
    if not (ext / "package.json").exists():  # pragma: no cover
        raise SystemExit(f"build_lite: the Pyodide kernel's extension is not at {ext}")
    if output.exists():
        shutil.rmtree(output)
    _run([sys.executable, "-m", "jupyterlite_core", "build", "--lite-dir", str(SRC),
          "--output-dir", str(output.resolve()), "--contents", str(SRC / "files"),
          "--ignore-sys-prefix", f"--LiteBuildConfig.federated_extensions={ext}",
          "--no-sourcemaps", "--no-unused-shared-packages",
          *[f"--apps={a}" for a in APPS]], cwd=SRC, quiet=True)
    # The notebook app shows its state in the tab's icon, from static/favicons as a Jupyter
    # server serves them; the build tool's own files are not part of the site.
    import jupyter_server

    shutil.copytree(Path(jupyter_server.__file__).parent / "static" / "favicons",
                    output / "static" / "favicons")
    for junk in [*output.glob("rspack.config*.js"), *output.rglob("*.map")]:
        junk.unlink()
    size = sum(p.stat().st_size for p in output.rglob("*") if p.is_file())
    print(f"build_lite: {output} ({size / 1e6:.1f} MB)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", nargs="?", type=Path, default=BUILD / "html" / "lite")
    build(parser.parse_args(argv).output)


if __name__ == "__main__":
    main()
