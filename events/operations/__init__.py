"""Operator tools over the whole log: check it, export and import it, rebuild the read model from it."""
