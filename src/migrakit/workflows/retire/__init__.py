"""`legacy.retire`: command.py gathers the plan, proves the fold and acts; plan.py holds the plan, the fold's
files and the record written into docs/."""
