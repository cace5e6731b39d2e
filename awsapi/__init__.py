"""The AWS front door's shared parts: ARNs, SigV4, the JSON error shape and
the guard every AWS-style API view runs under. Nothing here imports the
engine (invocations) or a service app, so every app may import it."""
