"""Blueprints: thin views that parse a request, call the domain, and render."""
