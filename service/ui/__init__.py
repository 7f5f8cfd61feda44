"""The web dashboard under ``/ui`` and the offline API documentation at ``/docs`` and ``/redoc``.

The pages are static HTML and JavaScript shipped in this package; in the browser they call the same
public REST API as every other client (``/v1/...``, with the API key kept in ``sessionStorage``), so
a page shows exactly what its key's principal may see. Nothing is loaded from another host.
"""
