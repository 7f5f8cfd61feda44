"""Background jobs: records, fenced attempts, the reaper, the registry of job kinds and their runs.

The job row in the database is the source of truth; a back end (:mod:`service.workers`) only
delivers job ids to workers. Every attempt claims the job by incrementing its ``attempt`` number
(a fencing token) and every later write of that attempt is conditional on the number still
matching, so a re-delivered or duplicated message never writes a second result.
"""
