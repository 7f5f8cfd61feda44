"""Who a request acts as."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """The owner identity of a request.

    ``name`` owns what it creates; an admin sees and changes everything. ``implicit``: no key was
    given (local mode), so nobody authenticated.
    """

    name: str
    is_admin: bool = False
    implicit: bool = False

    def owner_filter(self) -> str | None:
        """The owner to restrict queries to, or None for an admin (no restriction)."""
        return None if self.is_admin else self.name


#: The implicit principal of local mode (loopback server with no API key); it owns rows that
#: existed before ownership was introduced.
LOCAL_PRINCIPAL = Principal(name="local", is_admin=False, implicit=True)
