"""Backends: the store, the live state and the event bus, one module per engine."""
