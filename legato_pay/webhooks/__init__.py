"""Gateway callbacks: signature checks, the exactly-once inbox, handlers and the ASGI app."""
