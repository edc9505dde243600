"""Apps other than GHL: ClickBank (INS notifications in, REST API out) and any HTTP app."""

from ghlbridge.connectors.errors import ConnectorError

__all__ = ["ConnectorError"]
