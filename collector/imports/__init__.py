"""Importing an organisation or task records from CSV/XLSX: read, check, apply."""
