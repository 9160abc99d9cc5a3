"""Insight: what the processes really did, measured across departments.

`log` keeps the event log (a row per step, a row per process) that the runs write as they go;
`kpis`, `process_map`, `what_if` and `exports` read it.
"""
