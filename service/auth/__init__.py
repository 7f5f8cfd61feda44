"""Authentication: API keys (stored hashed) and the principal a request acts as."""

from service.auth.principal import LOCAL_PRINCIPAL, Principal

__all__ = ["LOCAL_PRINCIPAL", "Principal"]
