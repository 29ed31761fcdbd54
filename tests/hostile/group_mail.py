"""Mail intake (``intake.mail.handle``: the raw message as IMAP hands it over, MIME parsing and
ingest) and the notices it causes, sent by ``send_pending`` to a real SMTP server (cases in
``mail_*``)."""

from __future__ import annotations

from tests.hostile import mail_structure  # isort: skip  (the order the cases run in)
from tests.hostile import mail_notices  # isort: skip
from tests.hostile.harness import Group
from tests.hostile.mail_env import alive, cases, close, make

assert mail_structure and mail_notices  # each registers its cases

GROUP = Group(cases, make, alive, close)
