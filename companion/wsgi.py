"""WSGI entry point: `gunicorn companion.wsgi:app`.

Each worker process builds the app, then (``SCRIPTHAMMER_RENDER_WARM_UP``, on by default) warms the
render engines in a background thread: requests are answered meanwhile, and the studio's first quick
preview finds the engines loaded (docs/render.md).
"""
from companion import create_app
from companion.render.service import warm_up_in_background

app = create_app()
warm_up_in_background(app.config["SCRIPTHAMMER"])
