"""Labelled data for the local models, and the deterministic generator that wrote it."""
