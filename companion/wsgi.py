"""WSGI entry point: `gunicorn companion.wsgi:app`.

Each worker process builds the app, then (``SCRIPTHAMMER_RENDER_WARM_UP``, on by default) warms the
render engines in a background thread: requests are answered meanwhile, and the studio's first quick
preview finds the engines loaded (docs/render.md). The objects built at start-up (the app, its routes,
schemas and models) are then moved out of the garbage collector's generations (``gc.freeze``): they
live as long as the process, and a full collection no longer walks them in the middle of a request.
"""
import gc

from companion import create_app
from companion.render.service import warm_up_in_background

app = create_app()
warm_up_in_background(app.config["SCRIPTHAMMER"])
gc.collect()
gc.freeze()
