"""The one HTTP and WebSocket edge: the Starlette app, auth, the lean POST path, downloads, GraphiQL."""
