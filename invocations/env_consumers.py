"""Websockets of the environments views. Each checks access before it
joins its groups (invocations.env_live.group of each scope), then sends
the tables as they are now, so a change between the page's render and the
connection (or during a reconnect) is not missed. While connected, the
tables are sent again every AGE_REFRESH_S, so ages and idle times stay
close to true between changes."""

import asyncio
import contextlib

from channels.db import database_sync_to_async

from functions.models import Function
from invocations import env_live, env_state
from invocations.consumers import _FragmentConsumer

AGE_REFRESH_S = 10.0


class _EnvironmentsConsumer(_FragmentConsumer):
    """_FragmentConsumer's access check and groups (one per scope the user
    may see), plus the current tables on connect and the age refresh."""

    scopes: list[str] = []
    ticker: asyncio.Task | None = None

    async def allowed_groups(self, user):
        self.scopes = await self.allowed_scopes(user)
        return [env_live.group(scope) for scope in self.scopes]

    async def connect(self):
        await super().connect()
        if not getattr(self, "groups_to_join", None):
            return  # refused (closed by _FragmentConsumer)
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
        await super().disconnect(code)


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
