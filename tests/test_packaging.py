"""The wheel carries what an installed fastseg needs: the kernel sources and the command.

The kernels live at the repository root (``kernels/``) and are copied into the wheel as
``fastseg/kernels/``; a source checkout and an editable install read them from the root.
Here a wheel is built from this checkout with hatchling (the project's build backend, a
dev dependency), unpacked into a folder of its own, and imported from there, away from
``src/``: it must find its CUDA sources inside itself and build its CPU kernel from them.
"""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("hatchling", reason="hatchling is a dev dependency: pip install -e '.[dev]'")
    out = tmp_path_factory.mktemp("wheel")
    code = "from hatchling.build import build_wheel; import sys; print(build_wheel(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", code, str(out)], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out / done.stdout.split()[-1]


def test_wheel_ships_every_kernel_source_and_the_command(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = next(z.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
        for src in sorted((REPO / "kernels").iterdir()):
            packaged = f"fastseg/kernels/{src.name}"
            assert packaged in names, f"{src.name} is missing from the wheel"
            assert z.read(packaged) == src.read_bytes(), f"{packaged} differs from kernels/{src.name}"
    assert "fastseg/backend/gpu.py" in names and "fastseg/cli.py" in names
    assert "fastseg = fastseg.cli:main" in entry_points
    assert not any(n.startswith(("tests/", "bench/")) for n in names)  # the wheel is the library only


def test_installed_wheel_finds_its_kernels_and_builds_the_cpu_kernel(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:  # a pure-Python wheel installs by unpacking it
        z.extractall(site)
    probe = (
        "import fastseg, fastseg.backend.kernels as k, fastseg.backend.cpu_kernels as c, numpy as np\n"
        "print(fastseg.__file__); print(k.kernel_dir()); print(k.source('kmeans.cu').splitlines()[0])\n"
        "kern = c.load(); print(kern.path if kern else 'none:' + str(c.reason))\n"
        "X = np.random.default_rng(0).standard_normal((500, 3)).astype(np.float32)\n"
        "print(fastseg.KMeans(4, n_init=1, random_state=0, device='cpu').fit(X).inertia_ > 0)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "FASTSEG_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("FASTSEG_CPU_KERNEL", None)
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    module, kdir, first_line, built, fitted = done.stdout.splitlines()
    assert Path(module).is_relative_to(site), f"imported {module}, not the unpacked wheel"
    assert Path(kdir) == site / "fastseg" / "kernels"
    assert first_line == f'#line 1 "{site / "fastseg" / "kernels" / "kmeans.cu"}"'
    assert fitted == "True"
    from fastseg.backend import cpu_kernels

    if cpu_kernels._compiler() is not None:  # where this checkout builds it, the wheel must too
        assert Path(built).is_relative_to(tmp_path / "cache"), built
