"""Built-in job kinds, one module each; importing this package registers them."""

from service.jobs.kinds import equivariance, laplace, marglik, nam, prune

__all__ = ["equivariance", "laplace", "marglik", "nam", "prune"]
