"""ScriptHammer music companion: composition state, audio work and releases."""
__version__ = "0.1.0"


def create_app(config=None):
    """Build the Flask app (see companion.app.create_app)."""
    from companion.app import create_app as _create_app

    return _create_app(config)


__all__ = ["create_app", "__version__"]
