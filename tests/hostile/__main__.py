"""``python -m tests.hostile GROUP ...``: run one group of hostile cases (see ``harness``)."""

from tests.hostile.harness import main

main()
