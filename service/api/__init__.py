"""HTTP layer: FastAPI app factory, routers, request/response schemas and dependencies."""
