"""A table's definition: CreateTable's and UpdateTable's checks, the rows
they write, and TableDescription (DescribeTable's shape).

Rules (source: DynamoDB API reference, CreateTable / UpdateTable and
"Service, account, and table quotas"): table and index names are 3-255 of
`[a-zA-Z0-9_.-]`; a key schema is a HASH key and an optional RANGE key,
whose attributes are defined in AttributeDefinitions as S, N or B, and
every definition is used by some key; at most 5 local and 20 global
secondary indexes; a local index shares the table's partition key and
needs the table to have a sort key; PROVISIONED billing needs
ProvisionedThroughput (table and every global index), PAY_PER_REQUEST
refuses it. Errors are ValidationException with DynamoDB's words; a
table name in use is ResourceInUseException."""

from __future__ import annotations

import re
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from tables import wire
from tables.models import IndexEntry, Item, Table, TableIndex

NAME_RE = re.compile(r"^[a-zA-Z0-9_.\-]+$")
KEY_TYPES = ("S", "N", "B")
PROJECTIONS = ("ALL", "KEYS_ONLY", "INCLUDE")
BILLING_MODES = ("PROVISIONED", "PAY_PER_REQUEST")
VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
MAX_LOCAL_INDEXES = 5
MAX_GLOBAL_INDEXES = 20
MAX_PROJECTED_ATTRIBUTES = 100


def check_name(value, member: str = "tableName") -> str:
    if not isinstance(value, str) or len(value) < 3:
        raise wire.constraint(value, member, "have length greater than or equal to 3")
    if len(value) > 255:
        raise wire.constraint(value, member, "have length less than or equal to 255")
    if not NAME_RE.match(value):
        raise wire.constraint(value, member, "satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
    return value


def table_name(value) -> str:
    """TableName as given: a name, or the table's ARN (DynamoDB takes both)."""
    if isinstance(value, str) and value.startswith("arn:"):
        _, _, resource = value.partition(":table/")
        value = resource.split("/", 1)[0]
    return check_name(value)


def _key_schema(schema, where: str) -> list[dict]:
    if not isinstance(schema, list) or not schema:
        raise wire.validation(f"Invalid {where}: KeySchema must have at least one element")
    if len(schema) > 2:
        raise wire.constraint(schema, "keySchema", "have length less than or equal to 2")
    if schema[0].get("KeyType") != "HASH":
        raise wire.validation(f"Invalid {where}: The first KeySchemaElement is not a HASH key type")
    if len(schema) == 2:
        if schema[1].get("KeyType") != "RANGE":
            raise wire.validation(f"Invalid {where}: The second KeySchemaElement is not a RANGE key type")
        if schema[0].get("AttributeName") == schema[1].get("AttributeName"):
            raise wire.validation(
                f"Invalid {where}: The hash key and range key have the same name. "
                "The hash key and range key must be different"
            )
    for element in schema:
        name = element.get("AttributeName")
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise wire.constraint(name, "keySchema.member.attributeName", "have length between 1 and 255")
    return [{"AttributeName": e["AttributeName"], "KeyType": e["KeyType"]} for e in schema]


def _projection(projection, index_name: str) -> dict:
    projection = projection or {}
    kind = projection.get("ProjectionType", "ALL") if projection else None
    if kind is None:
        raise wire.invalid(f"Projection must be specified for index: {index_name}")
    if kind not in PROJECTIONS:
        raise wire.constraint(
            kind, "projection.projectionType", "satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]"
        )
    extra = projection.get("NonKeyAttributes")
    if kind != "INCLUDE" and extra:
        raise wire.invalid(f"ProjectionType is {kind}, but NonKeyAttributes is specified")
    if kind == "INCLUDE" and not extra:
        raise wire.invalid("ProjectionType is INCLUDE, but NonKeyAttributes is not specified")
    out = {"ProjectionType": kind}
    if extra:
        if len(set(extra)) != len(extra):
            raise wire.invalid(f"Duplicate NonKeyAttributes in index: {index_name}")
        out["NonKeyAttributes"] = list(extra)
    return out


def _throughput(value, billing: str, what: str) -> dict | None:
    """ProvisionedThroughput as stored: refused under PAY_PER_REQUEST,
    needed under PROVISIONED (both units, 1 or more)."""
    if billing == "PAY_PER_REQUEST":
        if value and (value.get("ReadCapacityUnits") or value.get("WriteCapacityUnits")):
            if what == "table":
                raise wire.invalid(
                    "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified "
                    "when BillingMode is PAY_PER_REQUEST"
                )
            raise wire.invalid(
                f"ProvisionedThroughput should not be specified for index: {what} "
                "when BillingMode is PAY_PER_REQUEST"
            )
        return None
    if not value or value.get("ReadCapacityUnits") is None or value.get("WriteCapacityUnits") is None:
        if what == "table":
            raise wire.invalid(
                "ReadCapacityUnits and WriteCapacityUnits must both be specified "
                "when BillingMode is PROVISIONED"
            )
        raise wire.invalid(f"ProvisionedThroughput must be specified for index: {what}")
    for unit in ("ReadCapacityUnits", "WriteCapacityUnits"):
        if value[unit] < 1:
            raise wire.invalid(f"{unit} must be greater than 0 for {what}")
    return {
        "ReadCapacityUnits": value["ReadCapacityUnits"],
        "WriteCapacityUnits": value["WriteCapacityUnits"],
    }


def _definitions(params: dict) -> dict[str, str]:
    found: dict[str, str] = {}
    for definition in params.get("AttributeDefinitions") or []:
        name, kind = definition.get("AttributeName"), definition.get("AttributeType")
        if kind not in KEY_TYPES:
            raise wire.constraint(
                kind, "attributeDefinitions.member.attributeType", "satisfy enum value set: [B, N, S]"
            )
        if name in found:
            raise wire.invalid(f"Duplicate AttributeName in AttributeDefinitions: {name}")
        found[name] = kind
    return found


def _stream(spec) -> tuple[bool, str] | None:
    """(enabled, view type) from StreamSpecification, or None when absent."""
    if not spec:
        return None
    enabled = bool(spec.get("StreamEnabled"))
    view = spec.get("StreamViewType")
    if enabled and view not in VIEW_TYPES:
        if view is None:
            raise wire.validation(
                "StreamSpecification: StreamViewType is required when StreamEnabled is true"
            )
        raise wire.constraint(
            view,
            "streamSpecification.streamViewType",
            "satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]",
        )
    if not enabled and view is not None:
        raise wire.validation(
            "StreamSpecification: StreamViewType must not be specified when StreamEnabled is false"
        )
    return enabled, view or ""


def new_stream_label() -> str:
    """StreamLabel: DynamoDB's is the enabling time, ISO 8601 to the ms."""
    return timezone.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def _index_specs(params: dict, key_schema: list[dict], billing: str) -> list[dict]:
    specs = []
    table_hash = key_schema[0]["AttributeName"]
    has_range = len(key_schema) == 2
    names = set()
    for kind, member in (("local", "LocalSecondaryIndexes"), ("global", "GlobalSecondaryIndexes")):
        given = params.get(member)
        if given is None:
            continue
        if not given:
            raise wire.validation(f"One or more parameter values were invalid: List of {member} is empty")
        limit = MAX_LOCAL_INDEXES if kind == "local" else MAX_GLOBAL_INDEXES
        if len(given) > limit:
            raise wire.validation(
                f"One or more parameter values were invalid: Number of {member} "
                f"exceeds per-table limit of {limit}"
            )
        for index in given:
            name = check_name(index.get("IndexName"), "indexName")
            if name in names:
                raise wire.invalid(f"Duplicate index name: {name}")
            names.add(name)
            schema = _key_schema(index.get("KeySchema"), "KeySchema")
            if kind == "local":
                if not has_range:
                    raise wire.invalid(
                        "Table KeySchema does not have a range key, which is required "
                        "when specifying a LocalSecondaryIndex"
                    )
                if schema[0]["AttributeName"] != table_hash:
                    raise wire.invalid(
                        f"Index KeySchema does not have the same leading hash key as "
                        f"table KeySchema for index: {name}. index hash key: "
                        f"{schema[0]['AttributeName']}, table hash key: {table_hash}"
                    )
                if len(schema) != 2:
                    raise wire.invalid(f"Index KeySchema does not have a range key for index: {name}")
            specs.append(
                {
                    "name": name,
                    "kind": kind,
                    "key_schema": schema,
                    "projection": _projection(index.get("Projection"), name),
                    "provisioned_throughput": (
                        _throughput(index.get("ProvisionedThroughput"), billing, name)
                        if kind == "global"
                        else None
                    ),
                }
            )
    return specs


def _check_definitions(definitions: dict[str, str], schemas: list[list[dict]]) -> None:
    used = {e["AttributeName"] for schema in schemas for e in schema}
    missing = sorted(used - set(definitions))
    if missing:
        raise wire.invalid(
            "Some index key attributes are not defined in AttributeDefinitions. "
            f"Keys: [{', '.join(missing)}], AttributeDefinitions: [{', '.join(definitions)}]"
        )
    if set(definitions) - used:
        raise wire.invalid(
            "Number of attributes in KeySchema does not exactly match number of attributes "
            "defined in AttributeDefinitions"
        )


def create_table(team, params: dict) -> Table:
    """CreateTable: checks everything, then writes the table and its
    indexes in one transaction. ResourceInUseException when the team has a
    table of that name."""
    name = check_name(params.get("TableName"))
    key_schema = _key_schema(params.get("KeySchema"), "KeySchema")
    definitions = _definitions(params)
    billing = params.get("BillingMode") or "PROVISIONED"
    if billing not in BILLING_MODES:
        raise wire.constraint(
            billing, "billingMode", "satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]"
        )
    throughput = _throughput(params.get("ProvisionedThroughput"), billing, "table")
    indexes = _index_specs(params, key_schema, billing)
    _check_definitions(definitions, [key_schema] + [i["key_schema"] for i in indexes])
    stream = _stream(params.get("StreamSpecification"))
    with transaction.atomic():
        if Table.objects.filter(team=team, name=name).exists():
            raise wire.in_use(f"Table already exists: {name}")
        enabled = bool(stream and stream[0])
        table = Table.objects.create(
            team=team,
            name=name,
            key_schema=key_schema,
            attribute_definitions=[{"AttributeName": n, "AttributeType": t} for n, t in definitions.items()],
            billing_mode=billing,
            provisioned_throughput=throughput,
            deletion_protection=bool(params.get("DeletionProtectionEnabled")),
            tags=_tags_in(params.get("Tags") or []),
            stream_view_type=stream[1] if enabled else "",
            stream_label=new_stream_label() if enabled else "",
        )
        for spec in indexes:
            TableIndex.objects.create(table=table, **spec)
    return table


def _tags_in(tags: list[dict]) -> dict:
    out = {}
    for tag in tags:
        key, value = tag.get("Key"), tag.get("Value")
        if not isinstance(key, str) or not 1 <= len(key) <= 128:
            raise wire.constraint(key, "tags.member.key", "have length between 1 and 128")
        if not isinstance(value, str) or len(value) > 256:
            raise wire.constraint(value, "tags.member.value", "have length less than or equal to 256")
        out[key] = value
    if len(out) > 50:
        raise wire.validation("The number of tags exceeds the limit of 50 per resource")
    return out


def add_tags(table: Table, tags: list[dict]) -> None:
    merged = {**table.tags, **_tags_in(tags)}
    if len(merged) > 50:
        raise wire.validation("The number of tags exceeds the limit of 50 per resource")
    table.tags = merged
    table.save(update_fields=["tags"])


def delete_table(table: Table) -> dict:
    """DeleteTable: the description (TableStatus DELETING), then every row
    of the table. ResourceInUseException under deletion protection."""
    if table.deletion_protection:
        raise wire.validation(
            "Resource cannot be deleted as it is currently protected against deletion. "
            "Disable deletion protection first."
        )
    description = describe(table)
    description["TableStatus"] = "DELETING"
    with transaction.atomic():
        # Plain DELETEs by table: the ORM's cascade would load every item's
        # id into memory first.
        entries = IndexEntry.objects.filter(index__table=table)
        entries._raw_delete(entries.db)
        items = Item.objects.filter(table=table)
        items._raw_delete(items.db)
        table.delete()
    return description


# -- UpdateTable -----------------------------------------------------------------


def update_table(table: Table, params: dict) -> Table:
    """UpdateTable: billing mode and throughput, DeletionProtectionEnabled,
    StreamSpecification (a new stream label each time a stream is enabled),
    GlobalSecondaryIndexUpdates (Create fills the new index from the items
    at once; Delete drops it; Update changes its throughput)."""
    from tables import indexing

    definitions = {d["AttributeName"]: d["AttributeType"] for d in table.attribute_definitions}
    given = _definitions(params) if params.get("AttributeDefinitions") else {}
    for name, kind in given.items():
        if definitions.get(name, kind) != kind:
            raise wire.invalid(
                f"Cannot change the type of attribute {name} from {definitions[name]} to {kind}"
            )
    billing = params.get("BillingMode") or table.billing_mode
    if billing not in BILLING_MODES:
        raise wire.constraint(
            billing, "billingMode", "satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]"
        )
    changed: list[str] = []
    throughput = table.provisioned_throughput
    if params.get("ProvisionedThroughput") is not None or billing != table.billing_mode:
        throughput = _throughput(
            params.get("ProvisionedThroughput")
            or (table.provisioned_throughput if billing == "PROVISIONED" else None),
            billing,
            "table",
        )
    existing = {i.name: i for i in table.indexes.all()}
    creates, deletes, updates = [], [], []
    for update in params.get("GlobalSecondaryIndexUpdates") or []:
        if "Create" in update:
            spec = update["Create"]
            name = check_name(spec.get("IndexName"), "indexName")
            if name in existing or any(c["name"] == name for c in creates):
                raise wire.invalid(
                    f"Index with the given name already exists: {name}"
                    if name in existing
                    else f"Duplicate index name: {name}"
                )
            creates.append(
                {
                    "name": name,
                    "kind": "global",
                    "key_schema": _key_schema(spec.get("KeySchema"), "KeySchema"),
                    "projection": _projection(spec.get("Projection"), name),
                    "provisioned_throughput": _throughput(spec.get("ProvisionedThroughput"), billing, name),
                }
            )
        elif "Delete" in update:
            name = update["Delete"].get("IndexName")
            if name not in existing or existing[name].kind != "global":
                raise wire.not_found(f"{wire.NOT_FOUND}: Index: {name} not found for table: {table.name}")
            deletes.append(existing[name])
        elif "Update" in update:
            name = update["Update"].get("IndexName")
            if name not in existing or existing[name].kind != "global":
                raise wire.not_found(f"{wire.NOT_FOUND}: Index: {name} not found for table: {table.name}")
            updates.append(
                (existing[name], _throughput(update["Update"].get("ProvisionedThroughput"), billing, name))
            )
    if creates:
        all_definitions = {**definitions, **given}
        used = {e["AttributeName"] for c in creates for e in c["key_schema"]}
        missing = sorted(used - set(all_definitions))
        if missing:
            raise wire.invalid(
                "Some index key attributes are not defined in AttributeDefinitions. "
                f"Keys: [{', '.join(missing)}], AttributeDefinitions: [{', '.join(all_definitions)}]"
            )
        if len([i for i in existing.values() if i.kind == "global"]) + len(creates) > MAX_GLOBAL_INDEXES:
            raise wire.validation(
                "One or more parameter values were invalid: Number of GlobalSecondaryIndexes "
                f"exceeds per-table limit of {MAX_GLOBAL_INDEXES}"
            )
    stream = _stream(params.get("StreamSpecification"))
    if stream is not None:
        enabled, view = stream
        if enabled and table.stream_view_type:
            raise wire.validation(f"Table already has an enabled stream: TableName: {table.name}")
        if not enabled and not table.stream_view_type:
            raise wire.validation(f"Table already has stream disabled: TableName: {table.name}")
    with transaction.atomic():
        if given:
            # Definitions no key uses any more are dropped, as DynamoDB does.
            keys = {e["AttributeName"] for e in table.key_schema}
            keys |= {e["AttributeName"] for i in existing.values() if i not in deletes for e in i.key_schema}
            keys |= {e["AttributeName"] for c in creates for e in c["key_schema"]}
            merged = {**definitions, **given}
            table.attribute_definitions = [
                {"AttributeName": n, "AttributeType": t} for n, t in merged.items() if n in keys
            ]
            changed.append("attribute_definitions")
        if billing != table.billing_mode or throughput != table.provisioned_throughput:
            table.billing_mode, table.provisioned_throughput = billing, throughput
            changed += ["billing_mode", "provisioned_throughput"]
        if params.get("DeletionProtectionEnabled") is not None:
            table.deletion_protection = bool(params["DeletionProtectionEnabled"])
            changed.append("deletion_protection")
        if stream is not None:
            enabled, view = stream
            table.stream_view_type = view if enabled else ""
            if enabled:
                table.stream_label = new_stream_label()
            changed += ["stream_view_type", "stream_label"]
        if changed:
            table.save(update_fields=changed)
        for index in deletes:
            entries = IndexEntry.objects.filter(index=index)
            entries._raw_delete(entries.db)
            index.delete()
        for index, value in updates:
            index.provisioned_throughput = value
            index.save(update_fields=["provisioned_throughput"])
        for spec in creates:
            index = TableIndex.objects.create(table=table, **spec)
            indexing.backfill(table, index)
    return table


# -- TableDescription ------------------------------------------------------------


def _throughput_out(value: dict | None) -> dict:
    value = value or {}
    return {
        "NumberOfDecreasesToday": 0,
        "ReadCapacityUnits": value.get("ReadCapacityUnits", 0),
        "WriteCapacityUnits": value.get("WriteCapacityUnits", 0),
    }


def describe(table: Table) -> dict:
    """TableDescription. ItemCount and TableSizeBytes are counted now
    (DynamoDB refreshes them about every six hours)."""
    totals = Item.objects.filter(table=table).aggregate(n=Count("id"), size=Sum("size"))
    out = {
        "TableName": table.name,
        "TableArn": table.arn,
        "TableId": str(table.id),
        "TableStatus": table.status,
        "CreationDateTime": table.created_at,
        "KeySchema": table.key_schema,
        "AttributeDefinitions": table.attribute_definitions,
        "ProvisionedThroughput": _throughput_out(table.provisioned_throughput),
        "BillingModeSummary": {
            "BillingMode": table.billing_mode,
            **(
                {"LastUpdateToPayPerRequestDateTime": table.created_at}
                if table.billing_mode == "PAY_PER_REQUEST"
                else {}
            ),
        },
        "ItemCount": totals["n"] or 0,
        "TableSizeBytes": totals["size"] or 0,
        "DeletionProtectionEnabled": table.deletion_protection,
    }
    counts = dict(
        IndexEntry.objects.filter(index__table=table)
        .values("index")
        .annotate(n=Count("id"))
        .values_list("index", "n")
    )
    local, global_ = [], []
    for index in table.indexes.all():
        described = {
            "IndexName": index.name,
            "KeySchema": index.key_schema,
            "Projection": index.projection,
            "IndexSizeBytes": 0,
            "ItemCount": counts.get(index.pk, 0),
            "IndexArn": f"{table.arn}/index/{index.name}",
        }
        if index.kind == "global":
            described["IndexStatus"] = index.status
            described["ProvisionedThroughput"] = _throughput_out(index.provisioned_throughput)
            global_.append(described)
        else:
            local.append(described)
    if local:
        out["LocalSecondaryIndexes"] = local
    if global_:
        out["GlobalSecondaryIndexes"] = global_
    if table.stream_view_type:
        out["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream_view_type}
    if table.stream_label:
        out["LatestStreamLabel"] = table.stream_label
        out["LatestStreamArn"] = table.stream_arn
    return out
