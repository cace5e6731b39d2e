"""buckets.spool_sweep: what a killed upload left in the spool folder goes;
a young file, a file still open (an upload in progress, however slow) and
anything not named like a spool file stay."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from buckets import spool_sweep, storage

ROOT = Path(__file__).resolve().parents[2]
HOUR = 3600


@pytest.fixture
def spool(settings, tmp_path):
    settings.STRATUS_OBJECTS_DIR = tmp_path / "objects"
    settings.STRATUS_SPOOL_MAX_AGE = HOUR
    directory = storage.spool_dir()
    directory.mkdir(parents=True)
    return directory


def aged(path: Path, seconds: float, data: bytes = b"half an upload") -> Path:
    path.write_bytes(data)
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_it_removes_what_killed_uploads_left_and_keeps_young_files(spool):
    put = aged(spool / "upload-a1b2.part", 2 * HOUR)
    copy = aged(spool / "copy-c3d4.part", HOUR + 60)
    young = aged(spool / "upload-e5f6.part", HOUR - 60)
    other = aged(spool / "notes.txt", 5 * HOUR)

    assert spool_sweep.sweep() == 2
    assert not put.exists() and not copy.exists()
    assert young.exists() and other.exists()
    assert spool_sweep.sweep() == 0


def test_it_keeps_an_old_file_an_upload_still_has_open(spool):
    slow = aged(spool / "upload-slow.part", 3 * HOUR)
    with open(slow, "ab") as writing:
        assert str(slow.resolve()) in spool_sweep.open_files(spool)
        assert spool_sweep.sweep() == 0
        assert slow.exists()
        writing.write(b" and more")
    os.utime(slow, (time.time() - 3 * HOUR,) * 2)
    assert spool_sweep.sweep() == 1 and not slow.exists()


def test_its_age_is_a_setting(spool, settings):
    left = aged(spool / "upload-x.part", 120)
    assert spool_sweep.sweep() == 0
    settings.STRATUS_SPOOL_MAX_AGE = 60
    assert spool_sweep.sweep() == 1 and not left.exists()


def test_it_has_nothing_to_do_without_a_spool_folder(settings, tmp_path):
    settings.STRATUS_OBJECTS_DIR = tmp_path / "never-made"
    assert spool_sweep.sweep() == 0


def test_the_web_sweeps_at_its_start(tmp_path):
    # The web's own start (console.asgi), in a process of its own, on the
    # platform's settings with a data folder of this test's.
    spool = tmp_path / "objects" / "tmp"
    spool.mkdir(parents=True)
    left = aged(spool / "upload-killed.part", 2 * HOUR)
    fresh = aged(spool / "upload-running.part", 10)
    env = {
        "PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "console.settings",
        "STRATUS_DATA_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    out = subprocess.run(
        [sys.executable, "-c", "import console.asgi"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert not left.exists() and fresh.exists()
