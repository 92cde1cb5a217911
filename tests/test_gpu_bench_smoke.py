"""bench/gpu_bench.py runs end to end, at toy sizes, on the CPU stand-in for CuPy.

The lent GPU's minutes are few: a script that fails halfway wastes them. This runs
every section of the benchmark (ceilings, Lloyd steps, seeding, the memory hook,
sweeps, the segmentation engine, Dask with device chunks, the large fit) on
tests/cupy_on_numpy and checks the table comes out. The times it prints mean nothing.
"""

import runpy
import sys
from pathlib import Path

import pytest

import cuda_on_cpu

if cuda_on_cpu.available() is not None:
    pytest.skip(cuda_on_cpu.available(), allow_module_level=True)

BENCH = Path(__file__).resolve().parents[1] / "bench" / "gpu_bench.py"


TOY = ["--n", "3000", "--ks", "8", "64", "--iters", "2", "--sklearn-n", "2000", "--sweep-n", "3000",
       "--rfm-customers", "300", "--big-n", "3500", "--copy-mib", "1", "--matmul-n", "64"]


def _stand_in(monkeypatch):
    import cupy_on_numpy

    from fastseg.backend import gpu

    monkeypatch.setenv("FASTSEG_EXPERIMENTAL_GPU", "1")
    cupy_on_numpy.configure()
    monkeypatch.setitem(sys.modules, "cupy", cupy_on_numpy)
    monkeypatch.setattr(gpu, "function", cupy_on_numpy.kernel_function)
    monkeypatch.setattr(gpu, "_PARTIAL_BUDGET", 1 << 16)  # fewer partitions: the emulated kernels run faster
    return gpu


def test_gpu_bench_runs_on_the_stand_in(monkeypatch, capsys):
    _stand_in(monkeypatch)
    bench = runpy.run_path(str(BENCH))
    bench["main"](TOY)
    out = capsys.readouterr().out
    print(out)
    assert "FAILED" not in out, out
    assert "| 64 |" in out and "k-means++ seeding k=256" in out
    assert "beyond the data" in out and "per Lloyd iteration" in out and "Segmenter.fit" in out
    assert "fitted on a sample of 750 rows, refined" in out and "sample of 375 rows, every row labelled" in out
    assert "k chosen on a sample of 74 customers" in out  # of the 299 the toy log leaves


def test_a_failing_section_is_reported_with_its_frames_and_the_rest_still_runs(monkeypatch, capsys):
    gpu = _stand_in(monkeypatch)

    def broken(self, data, runs):
        raise RuntimeError("planted: launch failed")

    monkeypatch.setattr(gpu.CuPyBackend, "lloyd_iteration_multi", broken)
    bench = runpy.run_path(str(BENCH))
    bench["main"](TOY + ["--big-n", "0"])  # the last --big-n counts
    out = capsys.readouterr().out
    assert "--- fastseg Lloyd iteration k=8 FAILED; the last frames:" in out
    assert "planted: launch failed" in out and "in broken" in out  # where it broke
    assert "| 8 |" in out and "FAILED | –" in out  # the table still comes, with the hole marked
    assert "k-means++ seeding k=256" in out and "k=64: floor" in out  # later sections ran
