"""Development reports: plain data built from a leader's scores, printed to PDF by WeasyPrint.

:func:`reports.build.individual_report` turns what the scoring layer lets out into display-ready
data; :func:`reports.render.render_pdf` prints that data. Neither needs Flask or the database, so
the web app, the CLI and a batch worker all produce the same document.
"""
