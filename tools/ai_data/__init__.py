"""The deterministic generator of the local models' labelled data (activities/ai/data/)."""
