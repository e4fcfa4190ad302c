"""gunicorn settings for the product (``gunicorn --config gunicorn.conf.py wsgi:app``)."""

workers = 4
