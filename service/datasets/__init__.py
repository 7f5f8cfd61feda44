"""Datasets for background jobs: uploads (CSV, ``.npz``), built-in scikit-learn examples, storage.

Functions here take a :class:`service.db.Database` (and the datasets directory), validate what
they are given and raise :mod:`service.errors` exceptions that the API maps to HTTP codes.
"""
