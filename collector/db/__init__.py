"""The SQLite database: connection, transactions, named migrations, the audit chain."""
