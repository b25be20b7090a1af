"""HTTP plumbing shared by the API and the pages: the edge, sign-in, the access table, dependencies."""
