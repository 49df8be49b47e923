"""xunjian (巡检): shared pieces of the agent and the server: the command line and the wire protocol."""

__version__ = "0.1.0"
