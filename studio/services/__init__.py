"""Use cases the app and the CLI call: generate, jobs, runs, batch, exchange, doctor, templates."""
