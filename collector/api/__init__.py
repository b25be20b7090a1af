"""The HTTP API's routes (JSON), one module per kind of resource."""
