"""Approval by finance staff: the workflow of staff actions, the audit trail check, supplier
master data and the suppliers' upload tokens."""
