"""Intake channels: each turns what arrives into ``pipeline.Submission`` objects."""
