"""Shared fixtures and the one place that decides whether a GPU is present."""

import zlib

import numpy as np
import pytest

from fastseg.backend import gpu_available

HAS_GPU = gpu_available()
requires_gpu = pytest.mark.skipif(not HAS_GPU, reason="needs a CUDA GPU with CuPy")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "gpu" in item.keywords and not HAS_GPU:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU with CuPy"))


@pytest.fixture(autouse=True)
def small_cpu_blocks(request, monkeypatch):
    """Test data is small, and in production a block has at least 4096 rows (below that
    the work per block does not pay for its Python): tests keep 256-row blocks so their
    data still spans many blocks and threads, unless marked ``production_blocks``."""
    if request.node.get_closest_marker("production_blocks") is None:
        from fastseg.backend import cpu

        monkeypatch.setattr(cpu, "_MIN_BLOCK_ROWS", 256)


@pytest.fixture
def rng(request):
    """A fresh generator per test, seeded from the test's name: the same data every run
    (``hash()`` of a str changes with each process's PYTHONHASHSEED, so it is not used)."""
    seed = zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(seed)


# CI runs the same hypothesis examples every time (no flaky red builds); locally,
# each run explores new ones.
from hypothesis import settings as _hsettings  # noqa: E402

_hsettings.register_profile("ci", derandomize=True, database=None)
if __import__("os").environ.get("CI"):
    _hsettings.load_profile("ci")


@pytest.fixture
def cli_result(capsys):
    """Run the ``fastseg`` command line: its exit status and stderr, argparse's own usage
    errors (SystemExit) included."""
    from fastseg.cli import main

    def run(argv):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code
        return rc, capsys.readouterr().err

    return run
