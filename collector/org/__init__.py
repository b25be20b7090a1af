"""The organisation: units, officers, counters, the device registry and its broker accounts."""
