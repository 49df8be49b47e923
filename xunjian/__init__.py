"""xunjian (巡检): the command line and the wire protocol shared by agent and server."""

__version__ = "0.1.0"
