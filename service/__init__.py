"""bdlopt service: REST API, study database, optimizer policies, background jobs and the Python SDK."""
