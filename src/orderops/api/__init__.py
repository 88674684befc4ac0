"""The HTTP API: thin FastAPI routers over the application services."""
