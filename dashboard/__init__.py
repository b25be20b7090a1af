"""hailong dashboard: the leaders' pages, server-rendered on the collector's API."""
