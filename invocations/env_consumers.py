"""Websockets of the environments views. Each checks access before it
joins its groups (invocations.env_live.group of each scope), then sends
the tables as they are now, so a change between the page's render and the
connection (or during a reconnect) is not missed. While connected, the
tables are sent again every AGE_REFRESH_S, so ages and idle times stay
close to true between changes."""

import asyncio
import contextlib

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from functions.models import Function
from invocations import env_live, env_state


AGE_REFRESH_S = 10.0


class _EnvironmentsConsumer(AsyncWebsocketConsumer):
    scopes: list[str]
    ticker: asyncio.Task | None = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.scopes = await self.allowed_scopes(user)
        if not self.scopes:
            # Same answer for "not yours" and "not there".
            await self.close(code=4404)
            return
        for scope in self.scopes:
            await self.channel_layer.group_add(env_live.group(scope), self.channel_name)
        await self.accept()
        await self.send(text_data=await database_sync_to_async(env_live.current_fragment)(self.scopes))
        self.ticker = asyncio.ensure_future(self._refresh_ages())

    async def _refresh_ages(self):
        tables = database_sync_to_async(env_live.tables_fragment)
        while True:
            await asyncio.sleep(AGE_REFRESH_S)
            await self.send(text_data=await tables(self.scopes))

    async def disconnect(self, code):
        if self.ticker is not None:
            self.ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.ticker
        for scope in getattr(self, "scopes", []):
            await self.channel_layer.group_discard(env_live.group(scope), self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        return  # the browser only listens

    async def html_fragment(self, event):
        await self.send(text_data=event["html"])


class InstallationConsumer(_EnvironmentsConsumer):
    @database_sync_to_async
    def allowed_scopes(self, user):
        return env_state.user_scopes(user)


class FunctionEnvironmentsConsumer(_EnvironmentsConsumer):
    @database_sync_to_async
    def allowed_scopes(self, user):
        fid = self.scope["url_route"]["kwargs"]["function_id"]
        if Function.objects.filter(id=fid, team__membership__user=user).exists():
            return [env_state.fn_scope(fid), env_state.POOL]
        return []
