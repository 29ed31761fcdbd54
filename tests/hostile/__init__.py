"""The hostile-input suite (issue 14, item 7): every channel (drop folder, HTTP upload, mail) and
every output (terminal views, the invoice page, the supplier's receipt and status page, both CSV
exports, notices) fed what an attacker would send, each case within 1 s and 150 MB, the original
kept and the pipeline still taking a normal invoice afterwards.

The cases of one group run in one warm subprocess (``harness``), which measures each and reports
a JSON row per case; ``test_hostile`` asserts on the rows, one test id per case.
"""
