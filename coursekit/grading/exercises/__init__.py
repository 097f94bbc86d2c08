"""One module per unit (``u1``, ``u2``, ...) registering that unit's exercise checks."""
