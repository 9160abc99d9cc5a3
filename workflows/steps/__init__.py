"""Reusable building blocks of processes: human tasks, bot and AI steps, compensation."""
