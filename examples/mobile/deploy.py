"""Deploys the mobile back end (examples/mobile/) to a running Stratus:

- tables `scores` (player + game, stream NEW_AND_OLD_IMAGES) and
  `leaderboard` (player), with boto3's dynamodb client;
- functions `mobile-api` (api.py) and `mobile-aggregate` (aggregate.py),
  with boto3's lambda client (an existing one gets the current code);
- the event source mapping from the scores stream to `mobile-aggregate`
  (TRIM_HORIZON, batch size 10);
- each function's execution policy (api.policy.json, aggregate.policy.json)
  and mobile-api's HTTP routes (POST /scores, GET /scores/{player},
  DELETE /scores/{player}/{game}): the Lambda API has no operation for
  these, so they are set through the console's own forms (Configuration tab
  -> Execution policy, Triggers tab -> Add an HTTP route), logged in as the
  user.

Run it again and it changes nothing that is already there (no second
mapping or route). At the end it prints the routes' URLs.

    .venv/bin/python manage.py createapikey admin     # prints the key and secret
    export AWS_ACCESS_KEY_ID=AKIA... AWS_SECRET_ACCESS_KEY=...
    .venv/bin/python examples/mobile/deploy.py --endpoint http://127.0.0.1:8000 \\
        --username admin --password stratus-admin

The API key and the console user must belong to the same team (the key's
team is where everything is made). Exit status 1 with a message when
something is refused.
"""

import argparse
import getpass
import html
import io
import os
import re
import sys
import time
import zipfile
from pathlib import Path

import boto3
import requests
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

HERE = Path(__file__).resolve().parent
REGION = "us-east-1"  # the policies' ARNs name us-east-1
ROLE = "arn:aws:iam::000000000000:role/mobile"  # Stratus takes any role ARN
FUNCTIONS = {
    # name: (module file, handler, execution policy file)
    "mobile-api": ("api.py", "api.handler", "api.policy.json"),
    "mobile-aggregate": ("aggregate.py", "aggregate.handler", "aggregate.policy.json"),
}
ROUTES = [("POST", "/scores"), ("GET", "/scores/{player}"), ("DELETE", "/scores/{player}/{game}")]
TABLES = {
    "scores": {
        "AttributeDefinitions": [{"AttributeName": "player", "AttributeType": "S"},
                                 {"AttributeName": "game", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "player", "KeyType": "HASH"},
                      {"AttributeName": "game", "KeyType": "RANGE"}],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    },
    "leaderboard": {
        "AttributeDefinitions": [{"AttributeName": "player", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "player", "KeyType": "HASH"}],
    },
}


class Refused(Exception):
    """Something the platform refused; the message says what."""


def say(text: str) -> None:
    print(text, flush=True)


# --- boto3: tables, functions, mapping --------------------------------------


def ensure_table(ddb, name: str, spec: dict) -> dict:
    """The table's description, creating it (or turning its stream on) as needed."""
    try:
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **spec)
        say(f"table {name}: created")
    except ddb.exceptions.ResourceInUseException:
        say(f"table {name}: exists")
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    table = ddb.describe_table(TableName=name)["Table"]
    wanted = spec.get("StreamSpecification")
    if wanted and table.get("StreamSpecification") != wanted:
        if table.get("StreamSpecification", {}).get("StreamEnabled"):
            raise Refused(f"table {name} has a {table['StreamSpecification']['StreamViewType']} stream; "
                          f"the example needs {wanted['StreamViewType']} (delete the table or its stream)")
        table = ddb.update_table(TableName=name, StreamSpecification=wanted)["TableDescription"]
        say(f"table {name}: stream turned on")
    return table


def code_zip(module: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(module, (HERE / module).read_text())
    return buf.getvalue()


def ensure_function(lam, name: str, module: str, handler: str) -> str:
    """The function's ARN; created, or an existing one given the current code and handler."""
    code = code_zip(module)
    try:
        arn = lam.create_function(
            FunctionName=name, Runtime="python3.11", Role=ROLE, Handler=handler,
            Code={"ZipFile": code}, Timeout=30, MemorySize=256,
        )["FunctionArn"]
        say(f"function {name}: created")
        return arn
    except lam.exceptions.ResourceConflictException:
        pass
    lam.update_function_code(FunctionName=name, ZipFile=code)
    arn = lam.update_function_configuration(
        FunctionName=name, Handler=handler, Runtime="python3.11", Timeout=30, MemorySize=256,
    )["FunctionArn"]
    say(f"function {name}: exists, code and configuration updated")
    return arn


def ensure_mapping(lam, function: str, stream_arn: str) -> str:
    """The UUID of the mapping from `stream_arn` to `function`, made once."""
    found = lam.list_event_source_mappings(FunctionName=function, EventSourceArn=stream_arn)
    if found["EventSourceMappings"]:
        uuid = found["EventSourceMappings"][0]["UUID"]
        say(f"event source mapping {uuid}: exists")
        return uuid
    uuid = lam.create_event_source_mapping(
        FunctionName=function, EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON", BatchSize=10,
    )["UUID"]
    say(f"event source mapping {uuid}: created")
    return uuid


# --- the console's forms: execution policies, HTTP routes ---------------------


def login(endpoint: str, username: str, password: str) -> requests.Session:
    """A session logged in to the console (Django's login form, with its CSRF token)."""
    session = requests.Session()
    url = f"{endpoint}/accounts/login/"
    session.get(url, timeout=30).raise_for_status()
    resp = session.post(url, timeout=30, allow_redirects=False, headers={"Referer": url}, data={
        "username": username, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"],
    })
    if resp.status_code != 302:
        raise Refused(f"the console refused the login of {username!r} (wrong user name or password?)")
    return session


def console_id(session: requests.Session, endpoint: str, name: str, arn: str) -> str:
    """The console's id of the function with this ARN: the functions list's
    links named `name`, told apart (same name in another team) by the ARN
    each function's page shows."""
    page = session.get(f"{endpoint}/", timeout=30)
    page.raise_for_status()
    links = re.findall(r'href="/functions/([0-9a-f-]{36})/">\s*([^<]+?)\s*</a>', page.text)
    for function_id, text in links:
        if html.unescape(text) != name:
            continue
        detail = session.get(f"{endpoint}/functions/{function_id}/", timeout=30)
        if detail.ok and f"<code>{arn}</code>" in detail.text:
            return function_id
    raise Refused(f"the console user does not see {arn}; the API key and the user must be in the same team")


def post_form(session: requests.Session, url: str, data: dict) -> requests.Response:
    return session.post(url, timeout=30, allow_redirects=False, headers={"Referer": url},
                        data={**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]})


def form_errors(page: str) -> str:
    errors = re.findall(r'class="error[^"]*"[^>]*>(.*?)</', page, re.S)
    return "; ".join(html.unescape(e.strip()) for e in errors if e.strip()) or "no reason shown"


def set_policy(session: requests.Session, endpoint: str, function_id: str, name: str, path: Path) -> None:
    """Configuration tab -> Execution policy (saving the same text again changes nothing)."""
    resp = post_form(session, f"{endpoint}/functions/{function_id}/policy/",
                     {"execution_policy": path.read_text()})
    if resp.status_code != 302:  # the form saves and redirects; a refusal renders the tab again
        raise Refused(f"execution policy of {name}: {form_errors(resp.text)}")
    say(f"function {name}: execution policy {path.name} set")


def ensure_route(session: requests.Session, endpoint: str, function_id: str, method: str, path: str) -> None:
    """Triggers tab -> Add an HTTP route, unless the function has it already."""
    listing = session.get(f"{endpoint}/functions/{function_id}/triggers/list/", timeout=30)
    listing.raise_for_status()
    targets = {html.unescape(t) for t in re.findall(r"<code>([^<]*)</code>", listing.text)}
    if f"{method} {path}" in targets:
        say(f"route {method} {path}: exists")
        return
    url = f"{endpoint}/functions/{function_id}/triggers/routes/"
    resp = post_form(session, url, {"method": method, "path": path, "auth": "none", "priority": "normal"})
    resp.raise_for_status()
    if f"Added the route {method} {path}" not in html.unescape(resp.text):
        raise Refused(f"route {method} {path}: {form_errors(resp.text)}")
    say(f"route {method} {path}: added")


# --- main ------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default="http://127.0.0.1:8000", help="Stratus's URL")
    parser.add_argument("--username", default="admin", help="console user (default: admin)")
    parser.add_argument("--password", default=os.environ.get("STRATUS_ADMIN_PASSWORD"),
                        help="console password (default: $STRATUS_ADMIN_PASSWORD, else asked)")
    parser.add_argument("--key", default=os.environ.get("AWS_ACCESS_KEY_ID"),
                        help="API key id from `manage.py createapikey` (default: $AWS_ACCESS_KEY_ID)")
    parser.add_argument("--secret", default=os.environ.get("AWS_SECRET_ACCESS_KEY"),
                        help="its secret (default: $AWS_SECRET_ACCESS_KEY)")
    args = parser.parse_args(argv)
    if not args.key or not args.secret:
        parser.error("an API key is needed: --key and --secret, or AWS_ACCESS_KEY_ID and "
                     "AWS_SECRET_ACCESS_KEY (`.venv/bin/python manage.py createapikey admin` prints one)")
    if args.password is None:
        args.password = getpass.getpass(f"console password of {args.username}: ")
    args.endpoint = args.endpoint.rstrip("/")
    return args


def deploy(args: argparse.Namespace) -> list[str]:
    """Everything above, in order; the routes' URLs."""
    def client(service):
        return boto3.client(service, endpoint_url=args.endpoint, region_name=REGION,
                            aws_access_key_id=args.key, aws_secret_access_key=args.secret,
                            config=Config(read_timeout=120))

    # The login first: a wrong password stops the script before it makes anything.
    session = login(args.endpoint, args.username, args.password)
    ddb, lam = client("dynamodb"), client("lambda")
    tables = {name: ensure_table(ddb, name, spec) for name, spec in TABLES.items()}
    arns = {name: ensure_function(lam, name, module, handler)
            for name, (module, handler, _) in FUNCTIONS.items()}
    ensure_mapping(lam, "mobile-aggregate", tables["scores"]["LatestStreamArn"])

    ids = {name: console_id(session, args.endpoint, name, arn) for name, arn in arns.items()}
    for name, (_, _, policy) in FUNCTIONS.items():
        set_policy(session, args.endpoint, ids[name], name, HERE / policy)
    for method, path in ROUTES:
        ensure_route(session, args.endpoint, ids["mobile-api"], method, path)
    return [f"{method} {args.endpoint}/http{path}" for method, path in ROUTES]


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    try:
        urls = deploy(args)
    except (Refused, ClientError, BotoCoreError, requests.RequestException) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    say(f"\nDeployed in {time.monotonic() - started:.1f} s. The API:")
    for url in urls:
        say(f"  {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
