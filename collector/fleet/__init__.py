"""The device fleet: its state, each screen's picture, provisioning and flashing."""
