"""Gateway callbacks, one way down: ``app`` (the ASGI listener) → ``inbox`` (exactly-once
storage) → ``dispatch`` (what each event does) → the purchase services; ``events`` holds the
types they share, ``signatures``, ``batching``, ``metrics`` (summed over workers) and
``ratelimit`` (refusals per address) serve the app, ``serve`` runs it under uvicorn, and
``replaying`` is ``webhooks replay``. Provider payloads are read by
``gateways.<provider>.events``, never here."""
