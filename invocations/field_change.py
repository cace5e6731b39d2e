"""Run something once a save that moves one field of a model commits: the
one mechanism behind "held events go when their function is Active"
(invocations.held_events) and "throttled events go when a reservation of
0 is lifted" (invocations.throttle_lift).

Only saves that name the field in `update_fields` (the code paths that
change it) are looked at, and only when the new value is one that counts
is the stored value read (one query): every other save costs nothing."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.db.models.signals import post_save, pre_save


def watch(model, field: str, becomes: Callable[[object], bool], was: Callable[[object], bool],
          then: Callable[[object], None], uid: str) -> None:
    """When a save of `model` naming `field` changes it from a value for
    which `was(old)` to one for which `becomes(new)`, call `then(instance)`
    after the transaction commits. `uid` names the receivers (Django's
    dispatch_uid) and the mark kept on the instance between the signals."""
    mark = f"_field_change_{uid}"

    def before(sender, instance, update_fields=None, **kwargs) -> None:
        if update_fields is None or field not in update_fields or instance.pk is None:
            return
        if not becomes(getattr(instance, field)):
            return
        old = model.objects.filter(pk=instance.pk).values_list(field, flat=True).first()
        if was(old):
            setattr(instance, mark, True)

    def after(sender, instance, **kwargs) -> None:
        if not getattr(instance, mark, False):
            return
        setattr(instance, mark, False)
        transaction.on_commit(lambda: then(instance))

    pre_save.connect(before, sender=model, weak=False, dispatch_uid=f"{uid}-pre")
    post_save.connect(after, sender=model, weak=False, dispatch_uid=f"{uid}-post")
