"""HTTP plumbing shared by the API and the pages: edge, sign-in, access table, dependencies."""
