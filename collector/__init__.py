"""hailong collector: MQTT ingest, SQLite store, evaluation and the HTTP API."""

__version__ = "0.1.0"
