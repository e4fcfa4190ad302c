"""gunicorn settings for the product: ``gunicorn --config gunicorn.conf.py wsgi:app``.

Command-line flags override these (``--workers 8``). docs/operations.md explains each choice.
"""

workers = 4
# Requests finish well inside this; a lock wait ends sooner (CL360_LOCK_TIMEOUT, 10 s).
timeout = 30
# Access log on standard output, in the usual combined format, with links' tokens hidden.
accesslog = "-"
logger_class = "assessment.logs.GunicornLogger"
# The client address as the trusted proxy saw it (CL360_TRUSTED_PROXIES) is logged by the app's
# own rate limiting; gunicorn's %(h)s is the proxy's address behind one.
