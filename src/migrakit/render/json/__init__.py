"""Every task's `--json` document (docs/json.md): the envelope in document.py, the shared shapes and the registry
of serializers in shapes.py, one module per command family with its reports' serializers."""
