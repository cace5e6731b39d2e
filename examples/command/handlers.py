"""The command handlers the router invokes (each deployed as its own function)."""


def add(event, context):
    return sum(event.get("numbers", []))


def greet(event, context):
    return f"hello, {event.get('name', 'world')}"
