"""The reference engine of a rule release: its official Schematron sources, compiled and run as
they are, and fingerprints of their assertions (issue 12)."""
