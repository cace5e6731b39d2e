from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from functions.access import default_team, role_in
from functions.models import ApiKey, Team


class Command(BaseCommand):
    help = (
        "Issue an access key for the AWS SDKs and CLI. Prints it in the form of "
        "~/.aws/credentials; the secret is shown only this once."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--team", help="the team the key acts for (default: the user's first)")

    def handle(self, *args, username: str, team: str | None, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user named {username!r}.")
        if team is None:
            chosen = default_team(user)
            if chosen is None:
                raise CommandError(f"{username} is in no team; add them to one first.")
        else:
            chosen = Team.objects.filter(name=team).first()
            if chosen is None:
                raise CommandError(f"There is no team named {team!r}.")
            if role_in(user, chosen) is None:
                raise CommandError(f"{username} is not a member of the team {team}.")
        key, secret = ApiKey.issue(user, chosen)
        self.stdout.write(f"aws_access_key_id = {key.access_key_id}")
        self.stdout.write(f"aws_secret_access_key = {secret}")
