"""A bucket whose uploads run a function, wired and used entirely in Debian's
Chromium: create a bucket and a function, point the bucket's notifications
at the function, upload two files (one large) in the bucket browser with
their progress bars, watch the triggered invocation arrive live on the
function's page and its log line (the key it got from
Records[0].s3.object.key), then browse into the folder and download."""

import hashlib

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import app_rows, login, new_function

pytestmark = pytest.mark.browser

HANDLER = '''
import time
from urllib.parse import unquote_plus

def lambda_handler(event, context):
    # Time to open the invocation from the function's page while it runs.
    time.sleep(5)
    key = unquote_plus(event["Records"][0]["s3"]["object"]["key"])
    print("got key", key)
    time.sleep(5)
    return {"key": key}
'''
BIG = 12 * 1024 * 1024  # over Django's in-memory upload size: spooled, never held in memory


def rows(stack, model: str, query: str) -> list:
    return app_rows(stack, "buckets", model, query)


def test_it_uploads_into_a_bucket_and_the_function_logs_the_key(page, stack, tmp_path):
    login(page)

    fn_url = new_function(page, "on-upload", HANDLER, timeout_s=20)

    # A bucket name S3 refuses is refused here, and nothing is created.
    page.click("header nav a:has-text('Buckets')")
    page.fill("#create-bucket input[name=name]", "Browser_Uploads")
    page.click("button:has-text('Create bucket')")
    expect(page.locator("#create-bucket .error")).to_contain_text("lowercase letters, numbers, dots")
    assert rows(stack, "Bucket", "values('name')") == []
    page.fill("#create-bucket input[name=name]", "browser-uploads")
    page.click("button:has-text('Create bucket')")
    expect(page.locator(".messages")).to_contain_text("Created the bucket browser-uploads.")
    bucket_url = page.url.split("?")[0]

    # Notifications: an entry without events is refused and stores nothing.
    page.click("a:has-text('Notifications')")
    entry = page.locator("#entry-0")
    entry.locator("select[name=entry-0-target]").select_option(label="on-upload")
    entry.locator("input[name=entry-0-suffix]").fill(".txt")
    page.click("button:has-text('Save notifications')")
    expect(page.locator("#entry-0 .error")).to_contain_text("Choose at least one event.")
    assert rows(stack, "Notification", "values('id')") == []
    page.locator("#entry-0 input[value='s3:ObjectCreated:*']").check()
    page.click("button:has-text('Save notifications')")
    expect(page.locator(".messages")).to_contain_text("Saved the notification configuration")
    expect(page.locator("#notification-json")).to_contain_text('"Value": ".txt"')

    # The function's page, open before the upload: the invocation arrives live.
    fn_page = page.context.new_page()
    fn_page.goto(fn_url + "?tab=invocations")
    expect(fn_page.locator("table.invocations")).to_be_visible()
    expect(fn_page.locator("table.invocations tbody tr")).to_have_count(0)

    small = tmp_path / "hello world.txt"
    small.write_text("hello from the browser\n")
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * (BIG // 256))
    page.goto(bucket_url)
    page.fill("#upload-form input[name=folder]", "incoming/")
    page.set_input_files("#upload-form input[type=file]", [str(small), str(big)])
    page.click("#upload-form button:has-text('Upload')")
    uploads = page.locator("#upload-progress li")
    expect(uploads).to_have_count(2)
    expect(page.locator("#upload-progress li[data-state=done]")).to_have_count(2)
    for i in range(2):
        assert uploads.nth(i).locator("progress").get_attribute("value") == "100"
    expect(uploads.nth(1)).to_contain_text("incoming/big.bin")
    stored = rows(stack, "Object", "filter(key='incoming/big.bin').values('size', 'etag')")
    assert stored == [{"size": BIG, "etag": f'"{hashlib.md5(big.read_bytes()).hexdigest()}"'}]
    # The listing reloads with the new folder.
    expect(page.locator("#listing")).to_contain_text("incoming/")

    # The .txt upload ran the function (big.bin is outside the suffix filter).
    # Its row arrives on the function's page without a reload when it starts;
    # its page, opened from there while it runs (logs are stored only when an
    # invocation ends, and only a running one's page listens), gets the log
    # line pushed over its websocket.
    row = fn_page.locator("table.invocations tbody tr")
    expect(row).to_have_count(1, timeout=90_000)
    expect(row).to_contain_text("Bucket")
    row.locator("a").first.click()
    expect(fn_page.locator("body[ws-connect^='/ws/invocations/']")).to_have_count(1)
    expect(fn_page.locator("pre.logs")).to_contain_text("got key incoming/hello world.txt", timeout=90_000)
    status = fn_page.locator(".page-head [data-status]")
    expect(status).to_have_attribute("data-status", "succeeded", timeout=60_000)

    # Browse into the folder (breadcrumb), download the small file.
    page.click("#listing a:has-text('incoming/')")
    expect(page.locator("nav.crumbs")).to_contain_text("browser-uploads / incoming")
    expect(page.locator("#listing")).to_contain_text("big.bin")
    expect(page.locator("#listing")).to_contain_text("12.0 MB")
    with page.expect_download() as download:
        page.click("#listing a:has-text('hello world.txt')")
    assert download.value.suggested_filename == "hello world.txt"
    assert open(download.value.path(), "rb").read() == b"hello from the browser\n"
