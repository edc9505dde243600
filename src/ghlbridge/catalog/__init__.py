"""Every GHL operation as data: the one source of truth for client, sandbox, CLI, flows, MCP."""

from ghlbridge.catalog.ids import operation_id, snake
from ghlbridge.catalog.model import Body, Operation, Paging, Param, Response
from ghlbridge.catalog.registry import Catalog, UnknownOperationError, load_catalog

__all__ = [
    "Body",
    "Catalog",
    "Operation",
    "Paging",
    "Param",
    "Response",
    "UnknownOperationError",
    "load_catalog",
    "operation_id",
    "snake",
]
