"""Bots: connectors that act on business systems over HTTP, one class per system."""
