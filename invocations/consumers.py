"""Websockets that forward rendered fragments from a group to the browser,
where htmx's ws extension swaps them in out-of-band. Each consumer checks
access before it joins its group."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from functions.access import teams_for
from functions.models import Function
from invocations import live
from invocations.models import Invocation


class _FragmentConsumer(AsyncWebsocketConsumer):
    groups_to_join: list[str]

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.groups_to_join = await self.allowed_groups(user)
        if not self.groups_to_join:
            # Same answer for "not yours" and "not there".
            await self.close(code=4404)
            return
        for group in self.groups_to_join:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "groups_to_join", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        # The browser only listens; htmx may send form values, ignore them.
        return

    async def html_fragment(self, event):
        await self.send(text_data=event["html"])


class TeamConsumer(_FragmentConsumer):
    @database_sync_to_async
    def allowed_groups(self, user):
        return [live.team_group(t.id) for t in teams_for(user)]


class FunctionConsumer(_FragmentConsumer):
    @database_sync_to_async
    def allowed_groups(self, user):
        fid = self.scope["url_route"]["kwargs"]["function_id"]
        if Function.objects.filter(id=fid, team__membership__user=user).exists():
            return [live.fn_group(fid)]
        return []


class InvocationConsumer(_FragmentConsumer):
    @database_sync_to_async
    def allowed_groups(self, user):
        rid = self.scope["url_route"]["kwargs"]["request_id"]
        if Invocation.objects.filter(request_id=rid, function__team__membership__user=user).exists():
            return [live.inv_group(rid)]
        return []
