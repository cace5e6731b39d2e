"""The AWS front door (door.py, protocols/, services.py) and its shared
parts: ARNs, SigV4, the JSON error shape, the guard of the doors beside it.
Nothing here imports the engine (invocations) or a service app, so every
app may import it."""
