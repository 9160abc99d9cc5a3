"""AI steps behind one interface: a local scikit-learn provider and an OpenAI-compatible one."""
