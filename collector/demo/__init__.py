"""`hailong demo`: an embedded broker, an organisation with a believable past, simulated kiosks."""
