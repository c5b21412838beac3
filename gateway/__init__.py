"""The HTTP gateway: Flask under gunicorn (gthread), stateless, talking to the services by RPC."""
