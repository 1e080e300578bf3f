"""The Werkzeug (WSGI) adapter for omeapi: maps ``environ`` to the core and back."""

__all__: list[str] = []
