"""Building blocks of the training-data generator (never imported at run time, never installed)."""
