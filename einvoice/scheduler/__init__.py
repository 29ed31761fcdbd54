"""The scheduled service behind ``einvoice run``: one process, three jobs.

- ``intake``: scan every drop folder, then poll every mailbox (every ``poll_minutes``);
- ``notify``: send pending notices to suppliers (same interval);
- ``export``: the nightly export at ``export_time`` (cron, in the ``timezone`` setting).

Each job never overlaps itself (``max_instances=1``, ``coalesce``), and every run is recorded
as a ``JobRun`` row. Several processes may run against one PostgreSQL database: each folder,
mailbox and the export are guarded by a PostgreSQL advisory lock (on SQLite, which serves one
machine, by a file lock), so two processes never work on the same file and only one runs the
export. The export runs only when it is *due*: when a fire time of its cron schedule lies after
the start of the last successful export run. The same test at start-up catches up a nightly run
missed while the machine was off, and makes a second process that gets the lock a moment later
skip a night that is already done. SIGTERM / SIGINT set a stop flag that the jobs check between
files (and between mail batches); the process then waits for the running job to finish.

Modules: ``jobs`` (the three jobs and how a run is recorded), ``timing`` (when the nightly export
is due), ``service`` (the process: scheduler, signals, the optional HTTP app), ``logs``.
"""
