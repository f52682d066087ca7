"""Task plugins the engine executes: httpCall:v1 (http.py) with OpenAPI operationRef resolution
(openapi_ops.py) and declarative mocks served through an httpx transport (mocks.py)."""
