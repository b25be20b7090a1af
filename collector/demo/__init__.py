"""`hailong demo`: an embedded broker, a seeded organisation with a believable past, simulated kiosks."""
