"""`db.baseline`: command.py plans a baseline (write one, adopt one, or record the legacy files' rows);
proof.py proves it on a shadow database and installs the proven files and rows."""
