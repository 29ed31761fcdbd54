"""Official Schematron assertions compiled to Python: the native rule engine."""
