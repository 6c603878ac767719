"""The review web app: dashboard, categorisation gallery and examiner welfare, served from one case folder.

    from fieldlab.web import create_app, WebConfig
    app = create_app(Path("~/cases/op-ash").expanduser())   # any ASGI server; ``fieldlab serve`` uses uvicorn
"""

from fieldlab.web.app import WebConfig, create_app

__all__ = ["WebConfig", "create_app"]
