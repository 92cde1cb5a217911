"""What ``import fastseg`` loads, and that its public names are what they say."""

import subprocess
import sys

import pytest


def _run(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_import_fastseg_is_light():
    # scikit-learn, pandas and SciPy take seconds to import: not before something needs them
    code = ("import sys, fastseg; print(sorted(m for m in ('sklearn', 'pandas', 'scipy', 'matplotlib', 'cupy')"
            " if m in sys.modules))")
    assert _run(code) == "[]"


def test_cli_errors_on_paths_before_the_heavy_imports(tmp_path):
    code = ("import sys; from fastseg.cli import main; rc = main(['segment', %r]); "
            "print(rc, 'sklearn' in sys.modules, 'pandas' in sys.modules)" % str(tmp_path / "missing.csv"))
    assert _run(code) == "2 False False"


@pytest.mark.parametrize("first", ["fastseg.segment", "fastseg.cli", "fastseg.report", "fastseg.sweep",
                                   "fastseg.plots", "fastseg.rules", "fastseg.stability", None])
def test_public_names_are_the_functions_whatever_was_imported_first(first):
    # fastseg.sweep and fastseg.report are functions, though modules of those names exist
    pre = f"import {first}; " if first else ""
    code = (pre + "import fastseg, inspect; "
            "print([inspect.isfunction(getattr(fastseg, n)) for n in ('sweep', 'report', 'rfm', 'kmeans_plusplus')],"
            " inspect.isclass(fastseg.KMeans), [inspect.ismodule(getattr(fastseg, m)) for m in"
            " ('datasets', 'plots', 'features', 'rules', 'stability')], callable(fastseg.plots.composition),"
            " callable(fastseg.rules.segment_rules), callable(fastseg.stability.segment_stability))")
    assert _run(code) == "[True, True, True, True] True [True, True, True, True, True] True True True"


def test_names_resolve_and_dir_lists_them():
    import fastseg

    for name in fastseg.__all__:
        assert getattr(fastseg, name) is not None
        assert name in dir(fastseg)
    from fastseg.kmeans import KMeans
    from fastseg.segment import Segmenter

    assert fastseg.KMeans is KMeans and fastseg.Segmenter is Segmenter
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fastseg.nope  # noqa: B018
