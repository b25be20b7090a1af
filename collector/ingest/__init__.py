"""MQTT in and out: the subscriber, the writer thread, what gets stored, supervision."""
