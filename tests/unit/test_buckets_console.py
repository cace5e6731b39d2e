"""The console's bucket pages: the bucket list, the browser (folders,
breadcrumb, pages), download, delete and upload; 404 to strangers, 403 to
read-only members, 405 on wrong methods; bad input stores nothing."""

import hashlib
import json
import uuid
from urllib.parse import quote

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from awsapi.spool import SpooledBody
from buckets import notifications, objects, storage, uploads, views
from buckets.models import Bucket, Notification, Object
from invocations import tasks
from invocations.models import Invocation
from tests.unit import asgi_client

pytestmark = pytest.mark.usefixtures("objects_dir")

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(tasks.run, "apply_async", lambda args, **kw: None)


@pytest.fixture
def bucket(team):
    return objects.create_bucket(team, "photos")


def put(bucket, key, data=b"x", content_type="text/plain"):
    """An object, stored as the upload door stores one."""
    storage.spool_dir().mkdir(parents=True, exist_ok=True)
    path = storage.spool_dir() / f"test-{uuid.uuid4().hex}"
    path.write_bytes(data)
    body = SpooledBody(path, size=len(data), md5=hashlib.md5(data).hexdigest())
    return uploads.put_object(bucket, key, body, content_type=content_type, by=notifications.Requester())


def login(client, users, who):
    client.force_login(users[who])
    return client


def url(name, bucket, query=""):
    return reverse(name, args=[bucket.team.account_id, bucket.name]) + query


def spool_files(objects_dir):
    return list((objects_dir / "tmp").glob("*")) if (objects_dir / "tmp").exists() else []


# The list --------------------------------------------------------------------------


def test_it_sends_strangers_to_the_login_page(client, bucket):
    assert client.get(reverse("bkt-list")).status_code == 302
    assert client.get(url("bkt-browse", bucket)).status_code == 302


def test_it_lists_the_buckets_of_my_teams_only(client, users, team, bucket):
    page = login(client, users, "reader").get(reverse("bkt-list"))
    assert page.status_code == 200
    assert b"photos" in page.content
    assert b"Create a bucket" not in page.content  # read-only: no form
    page = login(Client(), users, "outsider").get(reverse("bkt-list"))
    assert b"photos" not in page.content


def test_it_puts_buckets_in_the_navigation(client, users):
    page = login(client, users, "member").get(reverse("fn-list"))
    assert reverse("bkt-list").encode() in page.content


def test_it_creates_a_bucket(client, users, team):
    login(client, users, "member")
    response = client.post(reverse("bkt-list"), {"team": team.id, "name": "logs-2026"})
    assert response.status_code == 302
    assert response["Location"] == reverse("bkt-browse", args=[team.account_id, "logs-2026"])
    assert Bucket.objects.filter(team=team, name="logs-2026").exists()


@pytest.mark.parametrize("name,error", [
    ("ab", "between 3 and 63 characters"),
    ("Has-Capitals", "lowercase letters, numbers, dots and hyphens"),
    ("a..b", "two adjacent periods"),
    ("192.168.1.1", "IP address"),
    ("xn--bucket", "reserved by S3"),
])
def test_it_refuses_names_s3_refuses(client, users, team, name, error):
    response = login(client, users, "member").post(reverse("bkt-list"), {"team": team.id, "name": name})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Bucket.objects.exists()


def test_it_refuses_a_second_bucket_of_the_same_name(client, users, team, bucket):
    response = login(client, users, "member").post(reverse("bkt-list"), {"team": team.id, "name": "photos"})
    assert "already has a bucket with this name" in response.content.decode()
    assert Bucket.objects.filter(name="photos").count() == 1


def test_it_refuses_to_create_for_read_only_members(client, users, team):
    response = login(client, users, "reader").post(reverse("bkt-list"), {"team": team.id, "name": "nope"})
    assert response.status_code == 403
    assert not Bucket.objects.exists()


def test_it_deletes_an_empty_bucket(client, users, bucket):
    response = login(client, users, "member").post(url("bkt-delete", bucket))
    assert response.status_code == 302
    assert not Bucket.objects.exists()


def test_it_keeps_a_bucket_that_is_not_empty_and_says_why(client, users, bucket):
    put(bucket, "a.txt")
    response = login(client, users, "member").post(url("bkt-delete", bucket), follow=True)
    assert "is not empty: delete its objects first" in response.content.decode()
    assert Bucket.objects.filter(pk=bucket.pk).exists()
    assert Object.objects.filter(bucket=bucket).count() == 1


def test_it_guards_bucket_deletion(client, users, bucket):
    assert login(client, users, "reader").post(url("bkt-delete", bucket)).status_code == 403
    assert login(Client(), users, "outsider").post(url("bkt-delete", bucket)).status_code == 404
    assert login(Client(), users, "owner").get(url("bkt-delete", bucket)).status_code == 405
    assert Bucket.objects.filter(pk=bucket.pk).exists()


# The browser ------------------------------------------------------------------------


def test_it_shows_folders_and_objects_of_a_prefix(client, users, bucket):
    put(bucket, "top.txt", b"12345")
    put(bucket, "docs/readme.md")
    put(bucket, "docs/2026/report.csv", b"a,b\n")
    put(bucket, "docs/2026/deep/x.bin")
    login(client, users, "reader")

    root = client.get(url("bkt-browse", bucket)).content.decode()
    assert "top.txt" in root and "docs/" in root
    assert "readme.md" not in root  # inside the folder

    page = client.get(url("bkt-browse", bucket, "?prefix=docs/2026/"))
    assert page.status_code == 200
    assert [label for label, _ in page.context["folders"]] == ["deep/"]
    assert [label for label, _ in page.context["files"]] == ["report.csv"]
    assert page.context["crumbs"] == [("docs", "docs/"), ("2026", "docs/2026/")]
    body = page.content.decode()
    report = Object.objects.get(key="docs/2026/report.csv")
    assert report.etag.strip('"') in body and "4 bytes" in body
    assert f'href="/buckets/{bucket.team.account_id}/photos/?prefix=docs%2F"' in body  # the crumb up
    assert "Delete" not in body.split('id="listing"')[1].split("</table>")[0]  # read-only member


def test_it_pages_a_large_folder(client, users, bucket, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for name in ("a", "b", "c", "d", "e"):
        put(bucket, f"many/{name}.txt")
    login(client, users, "member")
    seen, query, pages = [], "?prefix=many/", 0
    while True:
        page = client.get(url("bkt-browse", bucket, query))
        pages += 1
        seen += [label for label, _ in page.context["files"]]
        if not page.context["next_token"]:
            break
        assert "Next page" in page.content.decode()
        query = f"?prefix=many/&token={page.context['next_token']}"
    assert seen == ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"]
    assert pages == 3


def test_it_answers_htmx_with_the_listing_only(client, users, bucket):
    put(bucket, "a.txt")
    page = login(client, users, "member").get(url("bkt-browse", bucket), **HX)
    body = page.content.decode()
    assert "a.txt" in body
    assert "<html" not in body and "upload-form" not in body


def test_it_starts_over_on_a_bad_token(client, users, bucket):
    response = login(client, users, "member").get(url("bkt-browse", bucket, "?prefix=x/&token=%21%21"))
    assert response.status_code == 302
    assert response["Location"] == url("bkt-browse", bucket, "?prefix=x%2F")


def test_it_hides_buckets_from_strangers(client, users, bucket):
    login(client, users, "outsider")
    assert client.get(url("bkt-browse", bucket)).status_code == 404
    assert client.get(url("bkt-download", bucket, "?key=a")).status_code == 404
    assert client.get(url("bkt-notifications", bucket)).status_code == 404


# Download ---------------------------------------------------------------------------


def test_it_downloads_an_object_as_an_attachment(client, users, bucket):
    data = bytes(range(256)) * 5000
    obj = put(bucket, "docs/data file.bin", data, content_type="application/x-thing")
    response = login(client, users, "reader").get(url("bkt-download", bucket, "?key=docs/data%20file.bin"))
    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == data
    assert response["Content-Disposition"] == 'attachment; filename="data file.bin"'
    assert response["Content-Type"] == "application/x-thing"
    assert response["Content-Length"] == str(len(data))
    assert response["ETag"] == obj.etag


def test_it_names_a_non_ascii_download_as_rfc_6266_says(client, users, bucket):
    put(bucket, "docs/résumé €.pdf", b"%PDF")
    login(client, users, "member")
    response = client.get(url("bkt-download", bucket, f"?key={quote('docs/résumé €.pdf')}"))
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20%E2%82%AC.pdf"
    assert b"".join(response.streaming_content) == b"%PDF"


def test_it_shows_a_folder_marker_object(client, users, bucket):
    put(bucket, "docs/", b"")
    put(bucket, "docs/a.txt")
    page = login(client, users, "member").get(url("bkt-browse", bucket, "?prefix=docs/"))
    assert [label for label, _ in page.context["files"]] == ["", "a.txt"]
    assert "(the folder's own marker object)" in page.content.decode()


def test_it_answers_404_for_a_missing_key(client, users, bucket):
    assert login(client, users, "member").get(url("bkt-download", bucket, "?key=nope")).status_code == 404


# Delete ------------------------------------------------------------------------------


def test_it_deletes_an_object_and_notifies(client, users, bucket, make_function,
                                           django_capture_on_commit_callbacks):
    fn = make_function()
    Notification.objects.create(bucket=bucket, position=0, kind="lambda", config_id="gone",
                                target_arn=fn.arn, events=["s3:ObjectRemoved:*"])
    obj = put(bucket, "docs/a.txt")
    put(bucket, "docs/b.txt")
    with django_capture_on_commit_callbacks(execute=True):
        response = login(client, users, "member").post(url("bkt-object-delete", bucket),
                                                       {"key": "docs/a.txt"})
    assert response.status_code == 302
    assert response["Location"] == url("bkt-browse", bucket, "?prefix=docs%2F")
    assert list(Object.objects.values_list("key", flat=True)) == ["docs/b.txt"]
    assert not storage.path_of(obj.blob).exists()
    event = json.loads(Invocation.objects.get(function=fn).event)
    assert event["Records"][0]["eventName"] == "ObjectRemoved:Delete"
    assert event["Records"][0]["s3"]["object"]["key"] == "docs/a.txt"


def test_it_guards_object_deletion(client, users, bucket):
    put(bucket, "a.txt")
    target = url("bkt-object-delete", bucket)
    assert login(client, users, "reader").post(target, {"key": "a.txt"}).status_code == 403
    assert login(Client(), users, "member").get(target).status_code == 405
    assert login(Client(), users, "member").post(target, {"key": "b"}).status_code == 404
    assert Object.objects.count() == 1


def test_it_confirms_then_deletes_a_folder(client, users, bucket):
    for key in ("docs/a.txt", "docs/2026/b.txt", "docsother.txt", "top.txt"):
        put(bucket, key)
    login(client, users, "member")
    confirm = client.get(url("bkt-folder-delete", bucket, "?prefix=docs/"))
    assert confirm.status_code == 200
    assert confirm.context["count"] == 2
    assert Object.objects.count() == 4  # a GET deletes nothing
    response = client.post(url("bkt-folder-delete", bucket), {"prefix": "docs/"})
    assert response.status_code == 302
    assert sorted(Object.objects.values_list("key", flat=True)) == ["docsother.txt", "top.txt"]


def test_it_refuses_a_folder_that_is_not_a_folder(client, users, bucket):
    put(bucket, "docs.txt")
    response = login(client, users, "member").post(url("bkt-folder-delete", bucket), {"prefix": "docs"})
    assert response.status_code == 302
    assert Object.objects.count() == 1


def test_it_guards_folder_deletion(client, users, bucket):
    put(bucket, "docs/a.txt")
    login(client, users, "reader")
    assert client.get(url("bkt-folder-delete", bucket, "?prefix=docs/")).status_code == 403
    assert client.post(url("bkt-folder-delete", bucket), {"prefix": "docs/"}).status_code == 403
    assert Object.objects.count() == 1


# Upload (buckets.upload_door, through the production ASGI application) ---------------

CSRF = "k" * 32  # a CSRF secret as the csrftoken cookie holds it


def upload(client, bucket, key, data, *, csrf=CSRF, content_type="text/csv", headers=None):
    """PUT `data` as the console's upload script does, with `client`'s session."""
    cookies = [f"csrftoken={CSRF}"]
    if settings.SESSION_COOKIE_NAME in client.cookies:
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}")
    sent = {"cookie": "; ".join(cookies), "content-type": content_type, "content-length": str(len(data))}
    if csrf:
        sent["x-csrftoken"] = csrf
    sent.update(headers or {})
    return asgi_client.call("PUT", url("bkt-upload", bucket, f"?key={quote(key)}"), data, sent)


def test_it_uploads_as_put_object_and_fires_the_same_notification(client, users, bucket, make_function):
    fn = make_function()
    Notification.objects.create(bucket=bucket, position=0, kind="lambda", config_id="new-csv",
                                target_arn=fn.arn, events=["s3:ObjectCreated:*"], suffix=".csv")
    data = b"id,name\n" + b"1,ada\n" * 400_000  # several of the spool's 1 MB writes
    response = upload(login(client, users, "member"), bucket, "in/data set.csv", data)
    assert response.status_code == 200, response.content
    obj = Object.objects.get(bucket=bucket, key="in/data set.csv")
    assert response.json() == {"Key": "in/data set.csv", "ETag": obj.etag, "Size": len(data)}
    assert obj.etag == f'"{hashlib.md5(data).hexdigest()}"'
    assert obj.content_type == "text/csv"
    assert storage.path_of(obj.blob).read_bytes() == data
    record = json.loads(Invocation.objects.get(function=fn).event)["Records"][0]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["configurationId"] == "new-csv"
    sequencer = record["s3"]["object"]["sequencer"]
    assert record["s3"]["object"] == {"key": "in/data+set.csv", "size": len(data),
                                      "eTag": obj.etag.strip('"'), "sequencer": sequencer}
    assert record["userIdentity"]["principalId"] == "Stratus:member"


def test_it_replaces_an_object(client, users, bucket, django_capture_on_commit_callbacks):
    old = put(bucket, "a.txt", b"old")
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(login(client, users, "member"), bucket, "a.txt", b"new").status_code == 200
    assert Object.objects.get(key="a.txt").size == 3
    assert storage.path_of(Object.objects.get(key="a.txt").blob).read_bytes() == b"new"
    assert not storage.path_of(old.blob).exists()


def test_it_refuses_an_upload_over_the_limit_before_reading_it(client, users, bucket, settings, objects_dir):
    settings.STRATUS_S3_MAX_PUT_BYTES = 10
    response = upload(login(client, users, "member"), bucket, "big.bin", b"x" * 11)
    assert response.status_code == 400
    assert response.json()["Code"] == "EntityTooLarge"
    assert "10 bytes" in response.json()["Message"]
    assert not Object.objects.exists()
    assert spool_files(objects_dir) == []


def test_it_refuses_a_body_shorter_than_its_length(client, users, bucket, objects_dir):
    login(client, users, "member")
    response = upload(client, bucket, "a.txt", b"abc", headers={"content-length": "5"})
    assert response.status_code == 400
    assert response.json()["Code"] == "IncompleteBody"
    assert not Object.objects.exists()
    assert spool_files(objects_dir) == []


def test_it_needs_a_content_length(client, users, bucket):
    response = upload(login(client, users, "member"), bucket, "a.txt", b"abc", headers={"content-length": ""})
    assert (response.status_code, response.json()["Code"]) == (411, "MissingContentLength")


@pytest.mark.parametrize("key,code", [("", "InvalidArgument"), ("k" * 1025, "KeyTooLongError")])
def test_it_refuses_a_bad_key_and_keeps_no_file(client, users, bucket, objects_dir, key, code):
    response = upload(login(client, users, "member"), bucket, key, b"data")
    assert response.status_code == 400
    assert response.json()["Code"] == code
    assert not Object.objects.exists()
    assert spool_files(objects_dir) == []
    assert [p for p in objects_dir.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("who,csrf,status,code", [
    (None, CSRF, 403, "AccessDenied"),  # not logged in
    ("member", None, 403, "AccessDenied"),  # no CSRF token
    ("member", "z" * 32, 403, "AccessDenied"),  # a wrong one
    ("reader", CSRF, 403, "AccessDenied"),
    ("outsider", CSRF, 404, "NoSuchBucket"),
])
def test_it_guards_uploads(users, bucket, who, csrf, status, code):
    client = login(Client(), users, who) if who else Client()
    response = upload(client, bucket, "a.txt", b"x", csrf=csrf)
    assert (response.status_code, response.json()["Code"]) == (status, code)
    assert not Object.objects.exists()


def test_it_leaves_other_methods_to_django(client, users, bucket):
    login(client, users, "member")
    response = client.post(url("bkt-upload", bucket, "?key=a"), b"x", content_type="text/plain")
    assert response.status_code == 405
    assert response["Allow"] == "PUT"


def test_it_shows_the_upload_form_to_writers_only(client, users, bucket):
    assert b"upload-form" in login(client, users, "member").get(url("bkt-browse", bucket)).content
    assert b"upload-form" not in login(Client(), users, "reader").get(url("bkt-browse", bucket)).content
