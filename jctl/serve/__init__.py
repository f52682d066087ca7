"""`jctl serve`: the Journeys API over HTTP, driving the same Runner and store as the CLI."""
