"""The device wire protocol v1 (docs/protocol.md): pure parsing and encoding."""
