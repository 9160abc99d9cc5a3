"""Labelled data for the local models; tools/ai_data/ (`make ai-data`) regenerates it."""
