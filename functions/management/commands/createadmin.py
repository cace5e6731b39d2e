from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from console.env import envstr
from functions.models import Membership, Team

DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "stratus-admin"


class Command(BaseCommand):
    help = "Create the admin user (STRATUS_ADMIN_USER / STRATUS_ADMIN_PASSWORD) and its team."

    def handle(self, *args, **options):
        username = envstr("STRATUS_ADMIN_USER", DEFAULT_USER)
        password = envstr("STRATUS_ADMIN_PASSWORD", DEFAULT_PASSWORD)
        User = get_user_model()
        with transaction.atomic():
            user = User.objects.filter(username=username).first()
            created = user is None
            if created:
                user = User.objects.create_superuser(username, password=password)
            team, _ = Team.objects.get_or_create(name="default")
            Membership.objects.get_or_create(team=team, user=user, defaults={"role": "owner"})
        if created:
            self.stdout.write(f"Admin user created: {username} / {password}")
        else:
            # A second run leaves the password someone may have changed alone.
            self.stdout.write(f"Admin user: {username} (exists; password unchanged)")
