"""Study domain: studies, trials and their lifecycle, suggest/observe, predictions.

Functions here take a :class:`service.db.Database`, run one transaction each and return plain
views (``Study``, ``Trial``); they raise :mod:`service.errors` exceptions that the API maps
to HTTP status codes.
"""
