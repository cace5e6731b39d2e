"""Plain statements for the few queries every invocation makes.

Building a query through the ORM (filters, the compiler, select_related's
join map) costs 0.3-1.5 ms of CPU per statement, several times what SQLite
or PostgreSQL then spend running it, and a warm invocation makes about six.
These helpers write the same statements directly, while still taking the
table and column names from the models and converting every value with the
field's own get_db_prep_save / from_db_value, so they agree with the ORM on
both databases. Use them on the invocation path only; everywhere else the
ORM is clearer and fast enough."""

from functools import cache

from django.db import connections, router
from django.db.models import JSONField, Model


def _connection(model: type[Model], write: bool):
    alias = router.db_for_write(model) if write else router.db_for_read(model)
    return connections[alias]


@cache
def _field(model: type[Model], name: str):
    return model._meta.get_field(name)


def _params(model, connection, values: dict, save: bool) -> list:
    out = []
    for name, value in values.items():
        field = _field(model, name)
        out.append(field.get_db_prep_save(value, connection) if save
                   else field.get_db_prep_value(value, connection, prepared=False))
    return out


def _where(model, connection, where: dict) -> str:
    qn = connection.ops.quote_name
    return " AND ".join(f"{qn(_field(model, name).column)} = %s" for name in where)


def update(model: type[Model], where: dict, values: dict, *, increment: tuple[str, ...] = ()) -> int:
    """UPDATE model SET values (and field = field + 1 for `increment`)
    WHERE every `where` field equals its value; returns the rows changed."""
    connection = _connection(model, write=True)
    sql = _update_sql(model, connection.alias, tuple(where), tuple(values), increment)
    params = _params(model, connection, values, save=True) + _params(model, connection, where, save=False)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@cache
def _update_sql(model, alias: str, where: tuple, values: tuple, increment: tuple) -> str:
    connection = connections[alias]
    qn = connection.ops.quote_name
    sets = [f"{qn(_field(model, name).column)} = %s" for name in values]
    sets += [f"{qn(_field(model, name).column)} = {qn(_field(model, name).column)} + 1"
             for name in increment]
    return (f"UPDATE {qn(model._meta.db_table)} SET {', '.join(sets)} "
            f"WHERE {_where(model, connection, where)}")


def insert(instance: Model) -> None:
    """INSERT one new row with every concrete field, as Model.save would."""
    model = type(instance)
    connection = _connection(model, write=True)
    fields = model._meta.concrete_fields
    params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(model, connection.alias), params)
    instance._state.adding = False
    instance._state.db = connection.alias


def insert_ignoring(model: type[Model], rows: list[dict]) -> None:
    """INSERT rows (each a dict of every concrete field's attribute name to
    a value the field accepts, e.g. text for a UUID or a time), skipping a
    row whose primary key is stored already (ON CONFLICT DO NOTHING:
    SQLite 3.24+, PostgreSQL). One executemany: what bulk_create does,
    without building a model instance per row."""
    if not rows:
        return
    connection = _connection(model, write=True)
    fields = model._meta.concrete_fields
    params = [[f.get_db_prep_save(f.to_python(row[f.attname]) if row[f.attname] is not None
                                  and not isinstance(f, JSONField) else row[f.attname], connection)
               for f in fields] for row in rows]
    sql = _insert_sql(model, connection.alias) + " ON CONFLICT DO NOTHING"
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


@cache
def _insert_sql(model, alias: str) -> str:
    qn = connections[alias].ops.quote_name
    fields = model._meta.concrete_fields
    columns = ", ".join(qn(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {qn(model._meta.db_table)} ({columns}) VALUES ({marks})"


def get(model: type[Model], where: dict, extra: dict | None = None):
    """The one row matching `where` as a model instance, or None.

    `extra` maps attribute names to (other model, its field, foreign key
    on `model`): read in the same statement, e.g. the function's current
    revision next to an invocation."""
    connection = _connection(model, write=False)
    sql, columns = _select(model, connection.alias, tuple(where), _extra_key(extra))
    with connection.cursor() as cursor:
        cursor.execute(sql, _params(model, connection, where, save=False))
        return _instance(model, connection, columns, cursor.fetchone())


def update_returning(
    model: type[Model], where: dict, values: dict, *, increment: tuple[str, ...] = (),
    extra: dict | None = None,
):
    """update(), and the changed row as a model instance (None when no row
    matched), in one statement (UPDATE ... RETURNING: SQLite 3.35+, PostgreSQL)."""
    connection = _connection(model, write=True)
    sql = _update_sql(model, connection.alias, tuple(where), tuple(values), increment)
    returning, columns = _columns(model, connection.alias, _extra_key(extra))
    params = _params(model, connection, values, save=True) + _params(model, connection, where, save=False)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {returning}", params)
        return _instance(model, connection, columns, cursor.fetchone())


def _extra_key(extra: dict | None) -> tuple:
    return tuple((attr, *spec) for attr, spec in (extra or {}).items())


def _instance(model, connection, columns, row):
    if row is None:
        return None
    values = [
        _convert(converters, value, connection)
        for (_, converters), value in zip(columns, row, strict=True)
    ]
    fields = model._meta.concrete_fields
    instance = model.from_db(connection.alias, [f.attname for f in fields], values[: len(fields)])
    for (attr, _), value in zip(columns[len(fields):], values[len(fields):], strict=True):
        setattr(instance, attr, value)
    return instance


@cache
def _select(model, alias: str, where: tuple, extra: tuple):
    connection = connections[alias]
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    columns, converters = _columns(model, alias, extra)
    return f"SELECT {columns} FROM {table} WHERE {_where(model, connection, where)}", converters


@cache
def _columns(model, alias: str, extra: tuple):
    """Every concrete column, then a scalar subquery per `extra` entry; and
    for each, its attribute name and converters."""
    connection = connections[alias]
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    columns = [(f"{table}.{qn(f.column)}", f.attname, f) for f in model._meta.concrete_fields]
    for i, (attr, other, other_field, via) in enumerate(extra):
        target = _field(other, other_field)
        columns.append((
            f"(SELECT x{i}.{qn(target.column)} FROM {qn(other._meta.db_table)} x{i}"
            f" WHERE x{i}.{qn(other._meta.pk.column)} = {table}.{qn(_field(model, via).column)})",
            attr, target,
        ))
    sql = ", ".join(c for c, _, _ in columns)
    return sql, [(attr, _converters(field, connection)) for _, attr, field in columns]


def _converters(field, connection) -> list:
    # The converters the ORM's compiler would apply: the backend's (SQLite
    # returns UUIDs, datetimes and booleans as text and integers), then the
    # field's own from_db_value (JSON).
    expression = field.get_col(field.model._meta.db_table)
    converters = connection.ops.get_db_converters(expression) + field.get_db_converters(connection)
    return [(converter, expression) for converter in converters]


def _convert(converters, value, connection):
    if value is None:
        return None
    for converter, expression in converters:
        value = converter(value, expression, connection)
    return value
