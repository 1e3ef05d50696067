"""Indicators of 教督〔2017〕6号: the catalog (``catalog``) and the county evaluation engine (``engine``).

Both are plain Python over plain data — no Flask, no database — so the importer, the views,
the CLI and the scheduler can all call them with rows they already hold.
"""
