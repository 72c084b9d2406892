"""`facebehavior serve`: a local web page to analyse photos and videos (docs/serve.md).

    from facebehavior.serve import ServeSettings, create_app
    app = create_app(ServeSettings(checkpoint="runs/x/checkpoints/best"))   # a Starlette app

The page runs the same code as `facebehavior analyze` (`inference.run.analyze_files`) on the uploaded
files; its downloads are the table, meta JSON and plots that command and `facebehavior plot` write.
"""

from facebehavior.serve.app import ServeSettings, create_app

__all__ = ["ServeSettings", "create_app"]
