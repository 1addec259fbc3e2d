"""uvicorn running rawpush.uvicorn:WebSocketProtocol, tested from the wire."""
