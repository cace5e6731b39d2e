"""What happens after an invocation reaches its final status, registered by
the apps that care (destinations, queue batches, ...) in AppConfig.ready().
The runner calls them in the worker, after the row is saved."""

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)
_finished: list[Callable] = []


def on_finished(func: Callable) -> Callable:
    """Decorator: func(invocation) runs once per final outcome."""
    if func not in _finished:
        _finished.append(func)
    return func


def run_finished(inv) -> None:
    for func in _finished:
        try:
            func(inv)
        except Exception:
            # One hook failing must not stop the others; the row is saved.
            log.exception("finish hook %s failed for %s", func.__name__, inv.request_id)
