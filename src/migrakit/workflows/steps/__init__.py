"""Steps that two or more commands share (a workflow never calls another's entry point): reading a database's
status, applying a plan, building a shadow database, proving which file made which object."""
