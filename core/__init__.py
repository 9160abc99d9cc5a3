"""Settings, the Temporal client, the database, logging, the CLI and the dev launcher."""
