"""Notices to suppliers: the outbox (queued in the transaction that causes them, sent by SMTP)
and their words."""
