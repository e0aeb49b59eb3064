"""The analytics blueprint on the shared app, whether or not companion/app.py registers it yet."""
from __future__ import annotations

import pytest


def register_ours(application) -> None:
    from companion.analytics.api import blp as analytics_blp

    api = application.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    if analytics_blp.name not in application.blueprints:
        api.register_blueprint(analytics_blp)


@pytest.fixture
def app(app):
    register_ours(app)
    return app
