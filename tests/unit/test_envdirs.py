"""invocations.envdirs: an environment's host folders and the code placed in them."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from invocations import envdirs
from invocations.envdirs import environment_dirs, place_code, prepare_task_dir


def test_it_lays_out_an_environments_folders_under_one_folder():
    assert environment_dirs("/srv/envs", "abc") == ("/srv/envs/abc/sock", "/srv/envs/abc/task")


def test_it_creates_an_empty_task_folder_beside_the_socket_folder(tmp_path):
    socket_dir, _ = environment_dirs(str(tmp_path), "e1")
    task_dir = prepare_task_dir("e1", socket_dir)
    assert task_dir == str(tmp_path / "e1" / "task")
    assert os.listdir(task_dir) == []
    assert stat.S_IMODE(os.stat(task_dir).st_mode) == 0o755


def test_it_refuses_a_default_task_folder_that_would_not_be_the_environments_own(tmp_path):
    # Today's pool layout <envdir>/<env_id> as the socket folder: a sibling
    # "task" would be shared by every environment.
    with pytest.raises(ValueError, match="give task_dir"):
        prepare_task_dir("e1", str(tmp_path / "e1"))
    assert not (tmp_path / "task").exists()


def test_it_refuses_a_task_folder_that_is_not_empty(tmp_path):
    task = tmp_path / "task"
    task.mkdir()
    (task / "left.py").write_text("")
    with pytest.raises(ValueError, match="not empty"):
        prepare_task_dir("e1", str(tmp_path / "sock"), str(task))


def test_it_refuses_task_and_socket_folders_inside_each_other(tmp_path):
    with pytest.raises(ValueError, match="nest"):
        prepare_task_dir("e1", str(tmp_path / "sock"), str(tmp_path / "sock" / "task"))
    with pytest.raises(ValueError, match="nest"):
        prepare_task_dir("e1", str(tmp_path / "x" / "sock"), str(tmp_path / "x"))


def bundle(tmp_path: Path) -> Path:
    code = tmp_path / "bundle"
    (code / "pkg" / "sub").mkdir(parents=True)
    (code / "app.py").write_text("def handler(e, c):\n    return 'ok'\n")
    (code / "pkg" / "__init__.py").write_text("")
    (code / "pkg" / "sub" / "data.json").write_text('{"k": 1}')
    return code


def test_it_places_the_code_as_hard_links(tmp_path):
    code, task = bundle(tmp_path), tmp_path / "task"
    task.mkdir()
    assert place_code(str(code), str(task)) == 3
    for rel in ("app.py", "pkg/__init__.py", "pkg/sub/data.json"):
        assert os.stat(task / rel).st_ino == os.stat(code / rel).st_ino
    assert (task / "pkg" / "sub" / "data.json").read_text() == '{"k": 1}'


def test_it_copies_when_a_hard_link_is_refused(tmp_path, monkeypatch):
    code, task = bundle(tmp_path), tmp_path / "task"
    task.mkdir()

    def cross_device(src, dst, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(envdirs.os, "link", cross_device)
    place_code(str(code), str(task))
    assert (task / "app.py").read_text() == (code / "app.py").read_text()
    assert os.stat(task / "app.py").st_ino != os.stat(code / "app.py").st_ino
