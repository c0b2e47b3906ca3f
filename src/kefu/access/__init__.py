"""Access: the HTTP API, the WebSocket endpoint, authentication and input limits."""
