"""The organisation: units, officers, counters, the duty roster, the device registry and its broker accounts."""
