"""Every GHL operation as data: the one source of truth for the client, sandbox, CLI, flows and MCP."""

from ghlbridge.catalog.ids import operation_id, snake
from ghlbridge.catalog.model import Body, Operation, Param, Paging, Response
from ghlbridge.catalog.registry import Catalog, UnknownOperationError, load_catalog

__all__ = [
    "Body",
    "Catalog",
    "Operation",
    "Param",
    "Paging",
    "Response",
    "UnknownOperationError",
    "load_catalog",
    "operation_id",
    "snake",
]
