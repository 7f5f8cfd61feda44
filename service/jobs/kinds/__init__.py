"""Built-in job kinds, one module each; importing this package registers them."""

from service.jobs.kinds import laplace, marglik, nam, prune

__all__ = ["laplace", "marglik", "nam", "prune"]
