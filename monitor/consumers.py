"""Websockets for the charts: they forward the metrics helper's ticks
(an out-of-band `<template id="metrics-tick" data-tick='...'>`, sent by
the worker when a call is recorded) from the metrics groups to the page,
where static/js/charts.js applies them. Access is checked before joining,
as in invocations.consumers: a function of another team or a team the user
is not in closes with 4404 (same answer for "not yours" and "not there"),
the installation's group is for staff only (4403)."""

from channels.db import database_sync_to_async

from functions.access import teams_for
from functions.models import Function, Team
from invocations.consumers import _FragmentConsumer
from metrics.live import ALL_GROUP, fn_group, team_group

__all__ = ["ALL_GROUP", "fn_group", "team_group"]


class FunctionMetricsConsumer(_FragmentConsumer):
    """/ws/metrics/functions/<function id>/: that function's ticks, for a
    member of its team."""

    @database_sync_to_async
    def allowed_groups(self, user):
        fid = self.scope["url_route"]["kwargs"]["function_id"]
        if Function.objects.filter(id=fid, team__membership__user=user).exists():
            return [fn_group(fid)]
        return []


class TeamsMetricsConsumer(_FragmentConsumer):
    """/ws/metrics/teams/: the ticks of every team the user is in;
    /ws/metrics/teams/<account id>/: one team's (a member's, or staff)."""

    @database_sync_to_async
    def allowed_groups(self, user):
        account_id = self.scope["url_route"]["kwargs"].get("account_id")
        if account_id is None:
            return [team_group(t.id) for t in teams_for(user)]
        visible = Team.objects.all() if user.is_staff else teams_for(user)
        team = visible.filter(account_id=account_id).first()
        return [team_group(team.id)] if team else []


class AllMetricsConsumer(_FragmentConsumer):
    """/ws/metrics/all/: every tick of the installation, for staff."""

    async def connect(self):
        user = self.scope.get("user")
        if user is not None and user.is_authenticated and not user.is_staff:
            await self.close(code=4403)
            return
        await super().connect()

    async def allowed_groups(self, user):
        return [ALL_GROUP] if user.is_staff else []
