"""Entry points: the CLI, the HTTP Cloud Functions, caller authentication, the
per-instance runtime and the rendering of outcomes. They parse, call and serialise."""
