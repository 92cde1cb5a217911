"""Writes through a temporary file: the old file or the new one, never half of one."""

import os
import stat

import pytest

from fastseg import _io


def test_a_write_replaces_the_file_with_the_usual_permissions(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("old")
    _io.atomic_write_text(path, "new ✓")
    assert path.read_text(encoding="utf-8") == "new ✓"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    assert os.listdir(tmp_path) == ["labels.csv"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_one(tmp_path, monkeypatch):
    path = tmp_path / "report.html"
    path.write_text("the old report")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(_io.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        _io.atomic_write_bytes(path, b"x" * 100_000)
    assert path.read_text() == "the old report"
    assert os.listdir(tmp_path) == ["report.html"]


def test_an_interrupted_write_leaves_nothing_new(tmp_path, monkeypatch):
    path = tmp_path / "new.png"

    class Interrupted(BaseException):
        pass

    def interrupted(fd, mode):
        raise Interrupted

    monkeypatch.setattr(_io.os, "fdopen", interrupted)
    with pytest.raises(Interrupted):
        _io.atomic_write_bytes(path, b"png")
    assert os.listdir(tmp_path) == []


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"folder '.*nowhere' does not exist; create it first"):
        _io.atomic_write_text(tmp_path / "nowhere" / "x.csv", "a")
