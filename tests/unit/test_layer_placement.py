"""invocations.envdirs.place_layers: a function's layers unpacked into the
environment's opt folder in order, a later layer winning, as Lambda does."""

import os

import pytest

from invocations.envdirs import opt_dir_beside, place_layers, prepare_opt_dir


def tree(root, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(root)


def test_later_layers_overwrite_earlier_files_and_keep_the_rest(tmp_path):
    first = tree(tmp_path / "l1", {"python/shared.py": "FIRST", "python/one.py": "1", "bin/tool": "t"})
    second = tree(tmp_path / "l2", {"python/shared.py": "SECOND", "python/two.py": "2"})
    opt = prepare_opt_dir(str(tmp_path / "env" / "opt"))
    assert place_layers([first, second], opt) == 5
    read = lambda rel: (tmp_path / "env" / "opt" / rel).read_text()  # noqa: E731
    assert read("python/shared.py") == "SECOND"
    assert (read("python/one.py"), read("python/two.py"), read("bin/tool")) == ("1", "2", "t")
    # Hard links to the stored content: no copy of the bytes.
    placed = tmp_path / "env" / "opt" / "python/two.py"
    assert os.stat(placed).st_ino == os.stat(tmp_path / "l2/python/two.py").st_ino
    # The stored first layer is untouched by the second's overwrite.
    assert (tmp_path / "l1/python/shared.py").read_text() == "FIRST"


def test_a_file_and_a_folder_of_one_path_the_later_wins(tmp_path):
    first = tree(tmp_path / "l1", {"lib/x/y.so": "so", "data": "file"})
    second = tree(tmp_path / "l2", {"lib/x": "now a file", "data/inner.txt": "now a folder"})
    opt = prepare_opt_dir(str(tmp_path / "opt"))
    place_layers([first, second], opt)
    assert (tmp_path / "opt/lib/x").read_text() == "now a file"
    assert (tmp_path / "opt/data/inner.txt").read_text() == "now a folder"


def test_the_opt_folder_is_beside_the_task_folder_and_must_start_empty(tmp_path):
    assert opt_dir_beside(str(tmp_path / "env1" / "task")) == str(tmp_path / "env1" / "opt")
    (tmp_path / "opt").mkdir()
    (tmp_path / "opt" / "left").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        prepare_opt_dir(str(tmp_path / "opt"))
