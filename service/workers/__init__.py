"""Job back ends: where job ids are delivered and run.

``local`` runs jobs on threads inside ``bdlopt serve`` (no extra service); ``celery`` sends job
ids through a Redis broker to ``bdlopt worker`` processes on GPU or CPU nodes. Both run a job
through :func:`service.jobs.runner.execute_job`, and the database stays the source of truth.
"""
