import json

from django.core.management.base import BaseCommand, CommandError

from functions.models import Function, Team
from invocations import dispatch

LOG_TAIL_BYTES = 4 * 1024


class Command(BaseCommand):
    help = (
        "Invoke a function and print its result as JSON (logs go to stderr). "
        "Exits non-zero when the function fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the function's name")
        parser.add_argument("--payload", default="{}", help="the event, as JSON (default {})")
        parser.add_argument("--team", help="the team owning the function, when names clash")
        parser.add_argument(
            "--async", dest="is_async", action="store_true",
            help="queue an Event invocation and print its request id without waiting",
        )
        parser.add_argument(
            "--log-tail", action="store_true",
            help="print the last 4 KB of logs to stderr (always done when the function fails)",
        )

    def handle(self, *args, name: str, payload: str, team: str | None, is_async: bool,
               log_tail: bool, **options):
        try:
            json.loads(payload)
        except ValueError as e:
            raise CommandError(f"--payload is not valid JSON: {e}.") from None
        fn = self._function(name, team)
        if is_async:
            inv = dispatch.submit_async(fn, payload, source="cli")
            self.stdout.write(json.dumps({"StatusCode": 202, "RequestId": str(inv.request_id)}))
            return

        done = dispatch.invoke_sync_blocking(fn, payload, source="cli")
        if log_tail or done.status != "succeeded":
            logs = (done.logs_tail or "").encode()[-LOG_TAIL_BYTES:]
            self.stderr.write(logs.decode(errors="ignore"), ending="")
        if done.status == "succeeded":
            self.stdout.write(done.result if done.result is not None else "null")
            return
        self.stdout.write(json.dumps(done.error or {"errorMessage": done.status}))
        raise CommandError(f"The invocation {done.request_id} ended as {done.status}.")

    def _function(self, name: str, team: str | None) -> Function:
        functions = Function.objects.select_related("team", "code").filter(name=name)
        if team is not None:
            if not Team.objects.filter(name=team).exists():
                raise CommandError(f"There is no team named {team!r}.")
            functions = functions.filter(team__name=team)
        found = list(functions[:2])
        if not found:
            where = f" in the team {team}" if team else ""
            raise CommandError(f"There is no function named {name!r}{where}.")
        if len(found) > 1:
            raise CommandError(
                f"Several teams have a function named {name!r}; choose one with --team."
            )
        return found[0]
