"""The journey engine: a pure-ish interpreter (state + trigger -> transitions) and the durable runner that
drives it against the store. The CLI uses `jctl.engine.runner.Runner`."""
