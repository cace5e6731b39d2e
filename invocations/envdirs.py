"""The host side of an environment's folders: where they are, who owns
them, and the function's code placed in them. Importable without Django.

Each environment has three host folders, bind-mounted into its container:
the socket folder (read-write at /var/runtime/sock: the bootstrap's Unix
socket), the task folder (read-only at /var/task: empty while the
environment is generic, then the function's code) and the opt folder
(read-only at /opt: empty until the function's layers are placed there).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil

log = logging.getLogger(__name__)

SANDBOX_UID = 10001  # the runtime image's user; owns the socket folder until it is locked
SOCKET_NAME = "bootstrap.sock"


def environment_dirs(env_root: str, env_id: str) -> tuple[str, str]:
    """(socket_dir, task_dir) of one environment under ``env_root``:
    ``<env_root>/<env_id>/sock`` and ``<env_root>/<env_id>/task``, so removing
    ``<env_root>/<env_id>`` removes both."""
    base = os.path.join(env_root, env_id)
    return os.path.join(base, "sock"), os.path.join(base, "task")


def opt_dir_beside(task_dir: str) -> str:
    """The opt folder of the environment whose task folder is ``task_dir``:
    ``<env_root>/<env_id>/opt``, removed with the environment's folder."""
    return os.path.join(os.path.dirname(os.path.abspath(task_dir)), "opt")


def prepare_opt_dir(path: str) -> str:
    """Create an environment's empty opt folder (root's, 0755); ValueError
    (nothing changed) if it holds anything."""
    path = os.path.abspath(path)
    os.makedirs(path, exist_ok=True)
    if os.listdir(path):
        raise ValueError(f"opt folder {path} is not empty")
    os.chmod(path, 0o755)
    return path


def prepare_socket_dir(path: str) -> str:
    """Create the socket folder for the sandbox user only; return the socket path."""
    os.makedirs(path, exist_ok=True)
    os.chown(path, SANDBOX_UID, SANDBOX_UID)
    os.chmod(path, 0o700)
    sock_path = os.path.join(path, SOCKET_NAME)
    if len(os.fsencode(sock_path)) >= 108:  # sun_path is 108 bytes on Linux
        raise ValueError(f"socket path too long for AF_UNIX: {sock_path}")
    try:
        os.unlink(sock_path)  # a stale socket would look ready before the bootstrap is
    except FileNotFoundError:
        pass
    return sock_path


def prepare_task_dir(env_id: str, socket_dir: str, task_dir: str | None = None) -> str:
    """Create an environment's empty task folder (root's, 0755) and return
    its absolute path: ``task_dir``, or when None the "task" folder beside
    ``socket_dir``, which must then be ``<root>/<env_id>/<name>`` (see
    environment_dirs) so that the folder is this environment's own.
    ValueError (nothing created) if that does not hold, if the two folders
    nest, or if the task folder holds anything."""
    socket_dir = os.path.abspath(socket_dir)
    if task_dir is None:
        parent = os.path.dirname(socket_dir)
        if os.path.basename(parent) != env_id:
            raise ValueError(
                f"socket folder {socket_dir} is not inside a folder named after "
                f"environment {env_id}: give task_dir (see environment_dirs)"
            )
        task_dir = os.path.join(parent, "task")
    else:
        task_dir = os.path.abspath(task_dir)
    if os.path.commonpath([task_dir, socket_dir]) in (task_dir, socket_dir):
        raise ValueError(f"task folder {task_dir} and socket folder {socket_dir} nest")
    os.makedirs(task_dir, exist_ok=True)
    if os.listdir(task_dir):
        raise ValueError(f"task folder {task_dir} is not empty")
    os.chmod(task_dir, 0o755)
    return task_dir


def lock_socket_dir(path: str) -> None:
    """Once the bootstrap's socket exists, and before any user code runs,
    the folder becomes root's and read-only to the sandbox: the function can
    still connect through the socket but can neither write to the host's
    disk there nor replace the socket with a link. Needs a root worker;
    otherwise the folder stays the sandbox user's (logged)."""
    if os.geteuid() != 0:
        log.warning("worker is not root: socket folder %s stays writable by the sandbox", path)
        return
    os.chown(path, 0, 0)
    os.chmod(path, 0o711)


def _link_or_copy(src: str, dst: str, same_fs: bool) -> None:
    if same_fs:
        try:
            os.link(src, dst)
            return
        except OSError as exc:
            # EPERM: fs.protected_hardlinks refuses a non-root worker
            # someone else's file; EMLINK: too many links to one inode.
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                raise
    shutil.copy2(src, dst)


def _clear(path: str) -> None:
    """Remove what is at ``path`` (a file, a link or a folder), if anything."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def place_layers(layer_dirs: list[str], opt_dir: str) -> int:
    """Unpack layers into ``opt_dir`` (mounted read-only at /opt) in order,
    as Lambda does: a later layer's file replaces an earlier layer's file
    of the same path (and a file and a folder of one path: the later
    wins). Files are hard links to the stored layer content, like
    place_code's. Returns the number of files placed."""
    count = 0
    for layer_dir in layer_dirs:
        same_fs = os.stat(layer_dir).st_dev == os.stat(opt_dir).st_dev
        for root, folders, files in os.walk(layer_dir):
            rel = os.path.relpath(root, layer_dir)
            target_root = opt_dir if rel == "." else os.path.join(opt_dir, rel)
            for name in folders:
                target = os.path.join(target_root, name)
                if not os.path.isdir(target) or os.path.islink(target):
                    _clear(target)
                    os.mkdir(target, 0o755)
            for name in files:
                target = os.path.join(target_root, name)
                _clear(target)
                _link_or_copy(os.path.join(root, name), target, same_fs)
                count += 1
    return count


def place_code(code_dir: str, task_dir: str) -> int:
    """Copy the tree ``code_dir`` into ``task_dir`` as hard links (a real copy
    where the two are on different file systems, or a link is refused);
    return the number of files. The links share the stored bundle's inodes:
    they are the worker's and 0644 (0755 when the zip made them
    executable: functions.code.store), /var/task is
    mounted read-only, and the sandbox user has no capabilities, so a
    function cannot change the stored bundle through them."""
    same_fs = os.stat(code_dir).st_dev == os.stat(task_dir).st_dev
    count = 0

    def link_or_copy(src: str, dst: str) -> str:
        nonlocal count
        count += 1
        _link_or_copy(src, dst, same_fs)
        return dst

    shutil.copytree(code_dir, task_dir, copy_function=link_or_copy, dirs_exist_ok=True)
    return count
