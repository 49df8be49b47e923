"""WSGI entry for other servers (gunicorn 'server.wsgi:app'): the data folder comes from
``XUNJIAN_DATA`` (see ``xunjian.core.paths``). Importing this module builds the app, on purpose."""

from server.app import create_app

app = create_app()
