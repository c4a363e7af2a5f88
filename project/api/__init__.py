"""What every app's API shares: the error shape, tenant scoping, pagination, throttles and the URL root.

Each app keeps its own endpoints in ``<app>/api.py``; this package holds only the cross-cutting parts, so
that the job framework's API reads the caller's tenant from ``request.tenant`` without importing the domain.
"""
