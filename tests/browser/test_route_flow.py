"""Wiring an HTTP route through the Triggers tab in Debian's Chromium:
create a function, add GET /hello/{name} in the form, call it."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

HANDLER = '''
def lambda_handler(event, context):
    return {"statusCode": 200, "body": "hi " + event["pathParameters"]["name"]}
'''


def test_it_wires_an_http_route_through_the_form_and_calls_it(page, stack):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin-pass-123")
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))

    page.goto("/functions/new/")
    page.fill("input[name=name]", "route-fn")
    page.check("input[name=code_source][value=inline]")
    page.fill("textarea[name=source]", HANDLER)
    page.click("button:has-text('Create function')")
    expect(page).to_have_url(re.compile(r"/functions/[0-9a-f-]{36}/"))

    page.click("nav.tabs a:has-text('Triggers')")
    expect(page).to_have_url(re.compile(r"\?tab=triggers"))
    page.click("summary:has-text('Add an HTTP route')")
    page.select_option("#route-form select[name=method]", "GET")
    page.fill("#route-form input[name=path]", "/hello/{name}")
    page.click("#route-form button:has-text('Add route')")

    triggers = page.locator("#trigger-list")
    expect(page.locator("#triggers .messages")).to_contain_text("Added the route GET /hello/{name}")
    expect(triggers).to_contain_text("GET /hello/{name}")
    expect(triggers).to_contain_text(f"{stack.url}/http/hello/{{name}}")

    response = page.request.get("/http/hello/ada")
    assert response.status == 200
    assert response.text() == "hi ada"

    page.goto("/http/hello/grace")
    expect(page.locator("body")).to_have_text("hi grace")


def test_it_shows_a_conflict_in_the_form_and_adds_nothing(page, stack):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "admin-pass-123")
    page.click("button[type=submit]")
    fn_id = stack.rows("Function.objects.filter(name='route-fn').values_list('id', flat=True)")[0]
    page.goto(f"/functions/{fn_id}/?tab=triggers")
    page.click("summary:has-text('Add an HTTP route')")
    page.fill("#route-form input[name=path]", "/hello/{who}")
    page.click("#route-form button:has-text('Add route')")
    expect(page.locator("#route-form .error")).to_contain_text("conflicts with the route GET /hello/{name}")
    expect(page.locator("#trigger-list tbody tr")).to_have_count(1)

    # The switch turns the route off (the list reloads itself), and back on.
    page.click("#trigger-list button.switch:has-text('On')")
    expect(page.locator("#trigger-list button.switch")).to_have_text("Off")
    assert page.request.get("/http/hello/ada").status == 404
    page.click("#trigger-list button.switch:has-text('Off')")
    expect(page.locator("#trigger-list button.switch")).to_have_text("On")
    assert page.request.get("/http/hello/ada").text() == "hi ada"

    # The schedule form previews the next five fire times as one types.
    page.click("summary:has-text('Add a schedule')")
    page.select_option("#schedule-form select[name=timezone]", "Asia/Tokyo")
    page.fill("#schedule-form input[name=expression]", "cron(0 9 ? * MON-FRI *)")
    expect(page.locator("#schedule-preview li")).to_have_count(5)
    expect(page.locator("#schedule-preview")).to_contain_text("09:00:00 JST")
    page.fill("#schedule-form input[name=expression]", "cron(0 9 * * *)")
    expect(page.locator("#schedule-preview .error")).to_contain_text("six fields")
