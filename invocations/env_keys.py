"""The Redis keys that say what a node's environments are doing right now
(invocations.pool writes them, invocations.env_state reads them):

| key | type | holds |
|---|---|---|
| `<instance>:idle:<node>:<revision>` | sorted set | idle environments of a revision, by last use (epoch s) |
| `<instance>:busy:<node>` | hash | leased environment -> lease time (epoch s) |
| `<instance>:generic:<node>:<runtime image>` | list | started generic (pre-warmed) environments |
| `<instance>:served:<node>` | hash | environment -> calls it has served (given back healthy) |
| `<instance>:envmem:<node>` | hash | environment -> its last call's max memory used (MB) |
| `<instance>:envevents:<scope>` | list | the scope's last environment events (JSON, newest first) |

Django settings only: no import of the pool, so the console's readers and
the pool's live hooks can share them without an import circle."""

from django.conf import settings

from invocations import nodes


# An idle provisioned environment's score in its idle set is its last use
# plus this: the lease's ZPOPMAX takes it before any on-demand one (Lambda
# serves calls from provisioned concurrency first), and the reaper leaves it
# to invocations.provisioning, which keeps it while its configuration wants it.
PROVISIONED_SCORE = 1e12


def idle_key(revision, node: str | None = None) -> str:
    return f"{settings.STRATUS_INSTANCE}:idle:{node or nodes.node()}:{revision}"


def busy_key(node: str | None = None) -> str:
    return f"{settings.STRATUS_INSTANCE}:busy:{node or nodes.node()}"


def generic_key(image: str, node: str | None = None) -> str:
    """Generic environments of one runtime image (its tag names the runtime
    and a hash of its files, so an upgrade starts a new list)."""
    return f"{settings.STRATUS_INSTANCE}:generic:{node or nodes.node()}:{image}"


def served_key(node: str | None = None) -> str:
    """Calls served per environment: HINCRBY on the release pipeline that
    already runs, so counting costs a warm call no round trip."""
    return f"{settings.STRATUS_INSTANCE}:served:{node or nodes.node()}"


def memory_key(node: str | None = None) -> str:
    """The last call's max memory used (MB) per environment, set on the
    same release pipeline."""
    return f"{settings.STRATUS_INSTANCE}:envmem:{node or nodes.node()}"


def events_key(scope: str) -> str:
    """The last environment events of a scope (invocations.env_state.scopes_of)."""
    return f"{settings.STRATUS_INSTANCE}:envevents:{scope}"
