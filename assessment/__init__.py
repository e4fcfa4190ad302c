"""Compassionate Leadership 360.

The package holds a domain core that knows nothing of Flask (``instruments``, ``scoring``,
``cohorts``, ``invitations``, ``responses``) and a thin web layer (``app``, ``web``, ``views``).
Importing this package imports neither.
"""
