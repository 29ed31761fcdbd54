"""The outputs: every view of a case in the terminal and as a page, the CLI's filters and
arguments, the supplier and staff lists, both exports (cases in ``views_*``)."""

from __future__ import annotations

from tests.hostile import views_output  # isort: skip  (the order the cases run in)
from tests.hostile import views_filters  # isort: skip
from tests.hostile import views_export  # isort: skip
from tests.hostile.harness import Group
from tests.hostile.views_env import alive, cases, make

assert views_output and views_filters and views_export  # each registers its cases

GROUP = Group(cases, make, alive)
