"""Steps the browser flows share: logging in as the stack's admin,
creating a function with inline code in the console, and reading an
app's rows from the stack's database."""

import re

from playwright.sync_api import expect


def login(page):
    """Log in as the stack's admin through the login form."""
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))


def new_function(page, name: str, source: str, timeout_s: int) -> str:
    """A function `name` with inline `source` and a timeout of `timeout_s`
    seconds, created on /functions/new/; its page's URL (no query)."""
    page.goto("/functions/new/")
    page.fill("input[name=name]", name)
    page.fill("input[name=timeout_s]", str(timeout_s))
    page.check("input[name=code_source][value=inline]")
    page.fill("textarea[name=source]", source)
    page.click("button:has-text('Create function')")
    expect(page).to_have_url(re.compile(r"/functions/[0-9a-f-]{36}/"))
    return page.url.split("?")[0]


def app_rows(stack, app: str, model: str, query: str) -> list:
    """`<app>.<model>.objects.<query>` in the stack's database, as JSON
    (stack.rows imports the engine's models only; other apps' come from
    the app registry)."""
    registry = "__import__('django.apps', fromlist=['apps']).apps"
    return stack.rows(f"{registry}.get_model('{app}', '{model}').objects.{query}")
