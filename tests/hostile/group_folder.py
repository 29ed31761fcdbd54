"""The drop folder (``intake.folder.scan``, as ``einvoice scan`` and the service run it): files
that reach for files and the network, blow up, nest, swarm, lie about their size or type, name
paths, or are no files at all (cases in ``folder_*``)."""

from __future__ import annotations

from tests.hostile import folder_documents  # isort: skip  (the order the cases run in)
from tests.hostile import folder_files  # isort: skip
from tests.hostile.folder_env import alive, cases, close, make
from tests.hostile.harness import Group

assert folder_documents and folder_files  # each registers its cases

GROUP = Group(cases, make, alive, close)
