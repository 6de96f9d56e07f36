"""Gateway callbacks, one way down: ``app`` (the ASGI listener) → ``inbox`` (exactly-once
storage) → ``dispatch`` (what each event does) → the purchase services; ``events`` holds the
types they share, ``signatures``, ``batching`` and ``metrics`` serve the app. Provider payloads
are read by ``gateways.<provider>.events``, never here."""
