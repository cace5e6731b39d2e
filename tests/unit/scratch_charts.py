# THROWAWAY (untracked): look at the charts with the scaffold series.
import random
from datetime import UTC, datetime, timedelta
import pytest
from metrics.models import MetricMinute

@pytest.mark.django_db(transaction=True)
def test_look(live_server, users, make_function):
    fn = make_function()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for i in range(0, 60, 2):
        MetricMinute.objects.create(team=fn.team, function_id=fn.id, function_name=fn.name, minute=now - timedelta(minutes=i),
            invocations=random.randint(1, 20), errors_failed=random.randint(0, 2), cold_starts=random.randint(0, 1), gb_seconds=random.random() / 10, concurrency_max=random.randint(1, 4))
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox", "--disable-gpu"], headless=True)
        pg = b.new_page(viewport={"width": 1200, "height": 900})
        msgs = []
        pg.on("console", lambda m: msgs.append(m.text))
        pg.on("pageerror", lambda e: msgs.append("ERR " + str(e)))
        pg.goto(live_server.url + "/accounts/login/")
        pg.fill("input[name=username]", "owner"); pg.fill("input[name=password]", "pw-owner"); pg.click("button[type=submit]")
        pg.goto(live_server.url + f"/functions/{fn.id}/")
        pg.click("nav.tabs a:has-text('Monitor')")
        pg.wait_for_selector("[data-chart=invocations] .uplot")
        pg.screenshot(path="/tmp/charts-wide.png", full_page=True)
        print(pg.evaluate("window.stratusCharts.instances.length"), pg.evaluate("window.stratusCharts.instances[0].plots.invocations.data[1].reduce((a,v)=>a+v,0)"))
        pg.evaluate("""() => { const c = window.stratusCharts.instances[0];
          const t = c.state.series.t.at(-1) + 60;
          const tick = JSON.stringify({function_id: c.container.dataset.functionId, t: t, status: 'failed', cold: true, duration_ms: 12, gb_seconds: 0.01});
          const html = `<template id="metrics-tick" hx-swap-oob="true" data-tick='${tick}'></template><template id="metrics-tick" hx-swap-oob="true" data-tick='${tick}'></template>`;
          c.container.dispatchEvent(new CustomEvent('htmx:wsAfterMessage', {detail: {message: html}}));
        }""")
        print(pg.evaluate("window.stratusCharts.instances[0].state.series.totals"))
        print(pg.evaluate("window.stratusCharts.instances[0].plots.invocations.data[1].reduce((a,v)=>a+v,0)"))
        pg.set_viewport_size({"width": 390, "height": 844})
        pg.wait_for_timeout(500)
        pg.screenshot(path="/tmp/charts-phone.png", full_page=True)
        print(pg.evaluate("document.querySelector('.monitor').scrollWidth"), pg.evaluate("window.stratusCharts.instances[0].plots.invocations.width"))
        pg.goto(live_server.url + "/dashboard/?range=24h")
        pg.wait_for_selector("[data-chart=invocations] .uplot")
        pg.set_viewport_size({"width": 1200, "height": 900})
        pg.screenshot(path="/tmp/dash.png", full_page=True)
        print(msgs)
        b.close()
