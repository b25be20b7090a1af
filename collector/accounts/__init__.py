"""Dashboard accounts: users, login sessions, scope and permissions."""
