"""A randomized soak run under faults, and a Jepsen-style checker of its recorded history (issue 11)."""
