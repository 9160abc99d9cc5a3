"""The thin HTTP API: starts processes, serves the inbox, reads live state."""
