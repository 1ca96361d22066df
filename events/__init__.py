"""The event store, its serialization, and the projections built from it."""
