"""The console's DynamoDB forms. They only shape the input into the
parameters DynamoDB's operations take (CreateTable's, an item in typed
JSON, a KeyConditionExpression); tables.schema, tables.items and
tables.reads check the values, so the console and boto3 agree. A form's
errors are DynamoDB's words where DynamoDB refused."""

from __future__ import annotations

import json
from decimal import Decimal

from boto3.dynamodb.types import TypeSerializer
from django import forms

from awsapi import jsontext
from functions.models import Function
from functions.versions_tab import qualifier_choices
from functions.team_lists import TeamForm
from mappings import configure
from mappings.models import EventSourceMapping
from tables import schema, values
from tables.models import Table

KEY_TYPES = [("S", "String (S)"), ("N", "Number (N)"), ("B", "Binary (B, base64)")]
VIEW_CHOICES = [("", "No stream")] + [(v, v) for v in schema.VIEW_TYPES]
SORT_OPERATORS = [
    ("", "any"), ("=", "="), ("<", "<"), ("<=", "<="), (">", ">"), (">=", ">="),
    ("begins_with", "begins with"), ("BETWEEN", "between"),
]


class TableForm(TeamForm):
    name = forms.CharField(max_length=255, help_text="3 to 255 of letters, digits, _ . -")
    partition_key = forms.CharField(max_length=255, label="Partition key")
    partition_type = forms.ChoiceField(choices=KEY_TYPES, initial="S", label="Type")
    sort_key = forms.CharField(max_length=255, required=False, label="Sort key",
                               help_text="Optional.")
    sort_type = forms.ChoiceField(choices=KEY_TYPES, initial="S", label="Type")
    stream_view_type = forms.ChoiceField(choices=VIEW_CHOICES, required=False, label="Stream",
                                         help_text="What each stream record holds of the item.")

    def params(self) -> dict:
        """CreateTable's parameters (on-demand billing)."""
        data = self.cleaned_data
        schema_ = [{"AttributeName": data["partition_key"], "KeyType": "HASH"}]
        definitions = [{"AttributeName": data["partition_key"], "AttributeType": data["partition_type"]}]
        if data["sort_key"]:
            schema_.append({"AttributeName": data["sort_key"], "KeyType": "RANGE"})
            definitions.append({"AttributeName": data["sort_key"], "AttributeType": data["sort_type"]})
        params = {"TableName": data["name"], "KeySchema": schema_, "AttributeDefinitions": definitions,
                  "BillingMode": "PAY_PER_REQUEST"}
        if data["stream_view_type"]:
            params["StreamSpecification"] = {"StreamEnabled": True,
                                             "StreamViewType": data["stream_view_type"]}
        return params


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number.")


def from_plain(value) -> dict:
    """A plain JSON object -> an item in DynamoDB's typed JSON, as boto3's
    resource layer converts Python values (str S, number N, bool BOOL,
    null NULL, list L, object M)."""
    return TypeSerializer().serialize(value)["M"]


class ItemForm(forms.Form):
    """An item as JSON: DynamoDB's typed JSON ({"id": {"S": "a"}}), or a
    plain object converted when `plain` is ticked."""

    item = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "class": "code", "spellcheck": "false"}), strip=False,
        help_text='DynamoDB JSON, e.g. {"id": {"S": "a"}, "n": {"N": "1"}}.',
    )
    plain = forms.BooleanField(
        required=False, label="Plain JSON",
        help_text='Convert a plain object ({"id": "a", "n": 1}): strings S, numbers N, '
        "true/false BOOL, null NULL, lists L, objects M.",
    )

    def clean(self):
        data = super().clean()
        text = data.get("item")
        if text is None:
            return data
        try:
            # Numbers as Decimal: DynamoDB's N is exact, a float is not.
            found = json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_no_constant)
        except json.JSONDecodeError as e:
            self.add_error("item", f"Not valid JSON: {e.msg} (line {e.lineno}, column {e.colno}).")
            return data
        except ValueError as e:
            self.add_error("item", f"Not valid JSON: {e}")
            return data
        if not isinstance(found, dict) or not found:
            self.add_error("item", "An item is a JSON object with at least one attribute.")
            return data
        where = jsontext.unpaired_surrogate_at(found)
        if where is not None:
            # A "\ud800" escape parses, but no database can store it.
            self.add_error("item", f"The text at {where} is not valid Unicode (it holds an unpaired "
                                   "surrogate such as \\ud800); use characters, or pairs of escapes.")
            return data
        if data.get("plain"):
            try:
                found = from_plain(found)
            except ArithmeticError:
                self.add_error("item", "A number has more than 38 significant digits, or is outside "
                                       "DynamoDB's range (1E-130 to 9.99E+125).")
                return data
            except (TypeError, ValueError) as e:
                self.add_error("item", f"This plain JSON has no DynamoDB type: {e}")
                return data
        else:
            found = json.loads(text)  # typed JSON carries numbers as strings
            bad = next((name for name, v in found.items() if not isinstance(v, dict)), None)
            if bad is not None:
                self.add_error("item", f'The attribute {bad} is not a typed value like {{"S": "text"}}; '
                                       "tick Plain JSON to convert plain values.")
                return data
        try:
            data["typed"] = values.normalize_item(found)
        except values.InvalidValue as e:
            self.add_error("item", str(e))
        return data


def typed_key_value(kind: str, text: str) -> dict:
    """A key value typed in the console -> {kind: text}, checked
    (values.InvalidValue in DynamoDB's words)."""
    return values.normalize_value({kind: text})


class QueryForm(forms.Form):
    """Query by partition key (and a sort key condition), on the table or
    one of its indexes; without a partition key value the page scans."""

    index = forms.ChoiceField(required=False, label="Table or index")
    pk = forms.CharField(required=False, strip=False, label="Partition key value")
    sk_op = forms.ChoiceField(choices=SORT_OPERATORS, required=False, label="Sort key")
    sk = forms.CharField(required=False, strip=False, label="Value")
    sk2 = forms.CharField(required=False, strip=False, label="And")
    order = forms.ChoiceField(choices=[("forward", "Ascending"), ("backward", "Descending")],
                              required=False, label="Order")

    def __init__(self, *args, table: Table, **kwargs):
        super().__init__(*args, **kwargs)
        self.table = table
        self.indexes = {i.name: i for i in table.indexes.all()}
        self.fields["index"].choices = [("", f"Table {table.name}")] + [
            (name, f"{'Global' if i.kind == 'global' else 'Local'} index {name}")
            for name, i in self.indexes.items()
        ]

    def clean(self):
        """Adds `params`: Query's (KeyConditionExpression with names and
        values) when a partition key value is given, else Scan's."""
        data = super().clean()
        if self.errors:
            return data
        index = self.indexes.get(data.get("index") or "")
        params: dict = {}
        if index is not None:
            params["IndexName"] = index.name
        if data.get("pk", "") == "":
            if data.get("sk_op"):
                self.add_error("pk", "Give the partition key value to query with a sort key condition.")
            data["params"], data["query"] = params, False
            return data
        types = {d["AttributeName"]: d["AttributeType"] for d in self.table.attribute_definitions}
        hash_name, range_name = (index or self.table).key_names()
        names, found = {"#pk": hash_name}, {}
        try:
            found[":pk"] = typed_key_value(types[hash_name], data["pk"])
        except values.InvalidValue as e:
            self.add_error("pk", str(e))
        expression = "#pk = :pk"
        op = data.get("sk_op")
        if op:
            if range_name is None:
                self.add_error("sk_op", "This table or index has no sort key.")
                return data
            operands = [("sk", ":sk")] + ([("sk2", ":sk2")] if op == "BETWEEN" else [])
            for field, name in operands:
                if data.get(field, "") == "":
                    self.add_error(field, "Give a value to compare the sort key with.")
                    continue
                try:
                    found[name] = typed_key_value(types[range_name], data[field])
                except values.InvalidValue as e:
                    self.add_error(field, str(e))
            names["#sk"] = range_name
            if op == "BETWEEN":
                expression += " AND #sk BETWEEN :sk AND :sk2"
            elif op == "begins_with":
                expression += " AND begins_with(#sk, :sk)"
            else:
                expression += f" AND #sk {op} :sk"
        if self.errors:
            return data
        params.update(KeyConditionExpression=expression, ExpressionAttributeNames=names,
                      ExpressionAttributeValues=found, ScanIndexForward=data.get("order") != "backward")
        data["params"], data["query"] = params, True
        return data


class StreamSettingForm(forms.Form):
    stream_view_type = forms.ChoiceField(choices=VIEW_CHOICES[1:], label="View type")


class TtlForm(forms.Form):
    attribute = forms.CharField(max_length=255, label="TTL attribute",
                                help_text="A Number attribute holding the expiry time in epoch seconds.")


POSITIONS = [("LATEST", "Latest (new changes only)"), ("TRIM_HORIZON", "Trim horizon (oldest kept)")]


class StreamMappingForm(forms.Form):
    """A DynamoDB stream mapped to a function, on the function's Triggers
    tab; saved through mappings.configure (Lambda's rules)."""

    stream = forms.ChoiceField(label="Table stream")
    batch_size = forms.IntegerField(initial=100, label="Batch size",
                                    help_text="1 to 10000 records per invocation.")
    starting_position = forms.ChoiceField(choices=POSITIONS, initial="LATEST", label="Starting position")
    qualifier = forms.ChoiceField(
        required=False, label="Version or alias",
        help_text="Unqualified runs $LATEST. An alias picks its version for each batch.",
    )

    def __init__(self, *args, function: Function, **kwargs):
        super().__init__(*args, **kwargs)
        self.function = function
        self.fields["qualifier"].choices = qualifier_choices(function)
        tables = Table.objects.filter(team=function.team).exclude(stream_view_type="").select_related("team")
        self.fields["stream"].choices = [("", "Choose a table's stream")] + [
            (t.stream_arn, f"{t.name} ({t.stream_view_type})") for t in tables
        ]

    def save(self) -> EventSourceMapping | None:
        """The new mapping, or None with the errors on the form and nothing saved."""
        if not self.is_valid():
            return None
        data = self.cleaned_data
        try:
            return configure.create(self.function, data["stream"], batch_size=data["batch_size"],
                                    starting_position=data["starting_position"],
                                    qualifier=data.get("qualifier") or "")
        except configure.MappingError as e:
            fields = {"event_source_arn": "stream"}
            field = fields.get(e.field, e.field)
            self.add_error(field if field in self.fields else None, str(e))
            return None
