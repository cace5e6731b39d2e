"""Celery tasks of the functions app: thin; the work is in
functions.dependency_build and functions.dependencies."""

from celery import shared_task


@shared_task(name="functions.build_dependencies", acks_late=True, ignore_result=True)
def build_dependencies(build_id: str) -> str:
    """Install a DependencyBuild's dependencies (idempotent: a build already
    ended or being run by another task is skipped)."""
    from functions import dependency_build

    return dependency_build.run(build_id)


@shared_task(name="functions.reconcile_builds", ignore_result=True)
def reconcile_builds() -> int:
    """Queue again builds whose task was lost or whose worker stopped."""
    from functions import dependencies

    return dependencies.recover()
