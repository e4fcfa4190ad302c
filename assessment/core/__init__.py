"""The domain core: what the product knows about leadership feedback, as plain Python.

Instruments (their schema, loading and checks), scoring and the disclosure rules that decide
which figures may be shown, cohort psychometrics, leadership profiles and how they are fitted,
the rules for text people type, and the sealing of drafts. Nothing here knows of Flask, HTTP or
the database: every function takes data and returns data, so each rule is tested directly and
every way out of the product (pages, exports, PDFs, jobs) goes through the same code.
``tests/test_architecture.py`` keeps it that way.
"""
