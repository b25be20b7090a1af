"""The `hailong` command line, one module per command group."""
