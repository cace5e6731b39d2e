"""createadmin: the admin user (STRATUS_ADMIN_USER, default "admin") and
its team "default".

The password: on creation, STRATUS_ADMIN_PASSWORD (or the file named by
STRATUS_ADMIN_PASSWORD_FILE) or the documented default "stratus-admin". For
an admin that exists already (e.g. made by an earlier `make test`), a
password set explicitly in the environment is applied, and without one the
password is left as it is. Every run says which of these it did; the only
password it ever prints is one it has just set."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from console.env import ImproperSetting, envstr
from functions.models import Membership, Team

DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "stratus-admin"
PASSWORD_VAR = "STRATUS_ADMIN_PASSWORD"


def password_from_environment() -> str | None:
    """The password set explicitly: STRATUS_ADMIN_PASSWORD_FILE's file or
    STRATUS_ADMIN_PASSWORD; None when neither is set (an empty value counts
    as not set, as for every Stratus setting)."""
    try:
        password = envstr(PASSWORD_VAR)
    except ImproperSetting as e:  # its _FILE cannot be read
        raise CommandError(str(e)) from None
    return password or None


class Command(BaseCommand):
    help = (
        "Create the admin user (STRATUS_ADMIN_USER / STRATUS_ADMIN_PASSWORD) and its team; "
        "for an existing admin, apply STRATUS_ADMIN_PASSWORD when it is set."
    )

    def handle(self, *args, **options):
        username = envstr("STRATUS_ADMIN_USER", DEFAULT_USER)
        explicit = password_from_environment()
        User = get_user_model()
        with transaction.atomic():
            user = User.objects.select_for_update().filter(username=username).first()
            created = user is None
            if created:
                user = User.objects.create_superuser(username, password=explicit or DEFAULT_PASSWORD)
            elif explicit is not None:
                user.set_password(explicit)
                user.save(update_fields=["password"])
            team, _ = Team.objects.get_or_create(name="default")
            Membership.objects.get_or_create(team=team, user=user, defaults={"role": "owner"})
        if created and explicit is not None:
            self.stdout.write(f"Admin user created: {username} / {explicit} (password from {PASSWORD_VAR})")
        elif created:
            self.stdout.write(
                f"Admin user created: {username} / {DEFAULT_PASSWORD} "
                f"(the default password; set {PASSWORD_VAR} to choose another)"
            )
        elif explicit is not None:
            self.stdout.write(
                f"Admin user: {username} / {explicit} (exists; password set from {PASSWORD_VAR})"
            )
        else:
            self.stdout.write(
                f"Admin user: {username} (exists; password unchanged: set {PASSWORD_VAR} to change it)"
            )
        if not user.is_superuser:
            self.stdout.write(
                f"Note: {username} exists but is not a superuser; its rights were left as they are."
            )
