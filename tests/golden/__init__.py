"""Golden outputs of the whole program (see scenarios.py); a package so its modules are `golden.*`."""
