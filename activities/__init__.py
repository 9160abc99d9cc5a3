"""Side effects: bots (httpx connectors), AI providers, the inbox and the decision ledger."""
