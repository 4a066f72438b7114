"""Installing: sdist and wheel build and pass twine; installed, `epochal demo` runs anywhere.

The fresh virtual environments see the test environment's packages (torch,
numpy, scikit-learn...) through a path file instead of installing them, so
nothing large is downloaded; epochal itself comes only from what was built.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_SKIP = {".git", ".venv", "build", "dist", "runs", "__pycache__", ".pytest_cache", ".mypy_cache"}

pytestmark = pytest.mark.slow


def run(args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, **kwargs
    )
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def copy_project(dest: Path) -> Path:
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in _SKIP or n.endswith(".egg-info")}

    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def fresh_venv(path: Path) -> Path:
    """A venv without pip that sees this environment's packages, but not its epochal."""
    venv.create(path, with_pip=False)
    python = path / "bin" / "python"
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], path)
    # A plain path line: that folder's own .pth files (the editable epochal) are not read.
    here = sysconfig.get_path("purelib")
    Path(site.stdout.strip(), "shared-packages.pth").write_text(here + "\n")
    return python


def pip_install(python: Path, target: str, cwd: Path) -> None:
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            target,
        ],
        cwd,
    )


def demo_runs_from_elsewhere(python: Path, where: Path) -> None:
    where.mkdir()
    epochal = python.parent / "epochal"
    out = run([str(epochal), "demo", "--verbose", "0", "--run-dir", "demo-run"], where).stdout
    assert "test accuracy:" in out
    assert (where / "demo-run" / "report.html").exists()
    origin = run([str(python), "-c", "import epochal; print(epochal.__file__)"], where).stdout
    assert str(python.parents[1]) in origin, origin  # the installed copy, not the checkout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("build")
    pytest.importorskip("twine")
    base = tmp_path_factory.mktemp("install")
    project = copy_project(base / "project")
    run(["bash", ".ci/build_check.sh", sys.executable, str(base / "dist")], project)
    (wheel,) = (base / "dist").glob("*.whl")
    (sdist,) = (base / "dist").glob("*.tar.gz")
    return {"base": base, "project": project, "wheel": wheel, "sdist": sdist}


def test_the_sdist_carries_license_tests_and_docs(built: dict[str, Path]) -> None:
    with tarfile.open(built["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"LICENSE", "pyproject.toml", "MANIFEST.in", "tests/conftest.py"} <= names
    assert "tests/test_install.py" in names
    assert not any("__pycache__" in n for n in names)
    import zipfile

    with zipfile.ZipFile(built["wheel"]) as whl:
        listed = whl.namelist()
    assert any(n.endswith("licenses/LICENSE") for n in listed)
    assert "epochal/py.typed" in listed


def test_the_wheel_in_a_fresh_venv_runs_the_demo_from_another_folder(
    built: dict[str, Path],
) -> None:
    python = fresh_venv(built["base"] / "venv-wheel")
    pip_install(python, str(built["wheel"]), built["base"])
    demo_runs_from_elsewhere(python, built["base"] / "elsewhere-wheel")


def test_pip_install_dot_in_a_fresh_venv_runs_the_demo(built: dict[str, Path]) -> None:
    python = fresh_venv(built["base"] / "venv-source")
    pip_install(python, ".", built["project"])
    demo_runs_from_elsewhere(python, built["base"] / "elsewhere-source")


def test_the_sdist_tests_run_against_the_installed_wheel(built: dict[str, Path]) -> None:
    python = fresh_venv(built["base"] / "venv-sdist")
    pip_install(python, str(built["wheel"]), built["base"])
    unpacked = built["base"] / "sdist"
    with tarfile.open(built["sdist"]) as tar:
        tar.extractall(unpacked, filter="data")
    (root,) = unpacked.iterdir()
    out = run(
        [
            str(python),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_public_api.py",
            "tests/test_diagnose.py",
        ],
        root,
    ).stdout
    assert " passed" in out and "failed" not in out
