"""Deterministic process code: one business process per module, no I/O."""
