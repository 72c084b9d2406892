"""`facebehavior serve`: a local web page to analyse photos and videos (docs/serve.md)."""

from __future__ import annotations

ORDER = 34
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve", help="a local web page: upload photos or videos, see and download the results",
        description="Starts a web server on this computer (http://127.0.0.1:8000/ by default). Drop photos or a "
                    "video on the page to see the faces' expressions (and AUs, valence/arousal when the model has "
                    "those heads) and download the table `facebehavior analyze` writes. Uploads and results live "
                    "in a temporary folder, deleted when the server stops (Ctrl+C). docs/serve.md")
    p.add_argument("--checkpoint", help="checkpoint folder, a .onnx file from `facebehavior export`, or a shipped "
                                        "model's name (default: the shipped FER+ expression model)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only; 0.0.0.0 lets other machines "
                        "in, with no login)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port)")
    g = p.add_argument_group("limits")
    g.add_argument("--max-upload-mb", type=float, default=500.0, help="largest file accepted, in MB (default 500)")
    g.add_argument("--max-files", type=int, default=20, help="most files in one upload (default 20)")
    g.add_argument("--max-queue", type=int, default=50, help="most jobs waiting at once (default 50)")
    g.add_argument("--keep-jobs", type=int, default=50,
                   help="finished jobs kept (the oldest are deleted beyond this; default 50)")
    g.add_argument("--tmp-dir", help="folder for the server's temporary files (default: the system's)")
    g = p.add_argument_group("network")
    g.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, auto (default cpu)")
    g.add_argument("--backend", choices=("auto", "torch", "onnxruntime"), default="auto",
                   help="auto (default): onnxruntime on the CPU, torch on --device cuda; onnxruntime exports a "
                        "checkpoint folder once into $FACEBEHAVIOR_CACHE (default ~/.cache/facebehavior)")
    g.add_argument("--batch-size", type=int, default=64, help="faces per network call (default 64)")
    g.add_argument("--threads", type=int, help="CPU threads for the network (default: the library's)")
    g.add_argument("--workers", type=int, default=1,
                   help="jobs analysed at once, each with its own copy of the model (default 1; others queue)")
    p.set_defaults(func=run)


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_limits(args) -> None:
    from facebehavior.errors import FaceBehaviorError

    for name in ("max_files", "max_queue", "keep_jobs", "workers", "batch_size"):
        if getattr(args, name) < 1:
            raise FaceBehaviorError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if not args.max_upload_mb > 0:
        raise FaceBehaviorError(f"--max-upload-mb must be above 0, got {args.max_upload_mb}")
    if not 0 <= args.port <= 65535:
        raise FaceBehaviorError(f"--port must be between 0 and 65535, got {args.port}")


def bind(host: str, port: int):
    """A listening socket, or an error that says what to do."""
    import socket

    from facebehavior.errors import FaceBehaviorError

    address = host.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        return socket.create_server((address, port), family=family, backlog=128)
    except OSError as exc:
        raise FaceBehaviorError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); is another server using "
                                "that port? Pick another with --port, or --port 0 for any free one") from None


def run(args) -> int:
    import sys

    from facebehavior.errors import CheckpointError, FaceBehaviorError

    check_limits(args)
    try:
        import python_multipart  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise FaceBehaviorError(f"facebehavior serve needs {exc.name}, which this install lacks: "
                                "pip install starlette uvicorn python-multipart") from None
    from facebehavior.serve.app import ServeSettings, create_app, load_runners

    settings = ServeSettings(
        checkpoint=args.checkpoint, device=args.device, backend=args.backend, batch_size=args.batch_size,
        threads=args.threads, max_files=args.max_files, max_upload_bytes=int(args.max_upload_mb * 1e6),
        max_queue=args.max_queue, keep_jobs=args.keep_jobs, workers=args.workers, tmp_dir=args.tmp_dir,
        allowed_hosts=LOOPBACK_HOSTS if is_loopback(args.host) else None)
    sock = bind(args.host, args.port)  # before the model loads: a port in use fails at once
    print("loading the model ...", file=sys.stderr, flush=True)
    try:
        runners = load_runners(settings)
    except CheckpointError as exc:
        sock.close()
        if args.checkpoint is None:
            raise CheckpointError(f"{exc}\nfacebehavior serve needs a model and the shipped default is not in this "
                                  "install: start it with --checkpoint CKPT (a checkpoint folder from `facebehavior "
                                  "train`, or a .onnx file from `facebehavior export`)") from None
        raise
    except BaseException:
        sock.close()
        raise
    app = create_app(settings, runners)
    info = app.state.info["model"]
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    heads = ", ".join(t["title"].lower() for t in info["tasks"]) or "no trained head"
    print(f"model: {info['name']} ({heads})", flush=True)
    for warning in app.state.info["warnings"]:
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    if not is_loopback(args.host):
        print(f"warning: listening on {shown}:{port}, which other machines can reach: anyone who can reach this "
              "port can upload files and see every result (there is no login). Use --host 127.0.0.1 (the "
              "default) to keep the page on this computer.", file=sys.stderr, flush=True)
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::") else shown
    print(f"facebehavior serve: open http://{url_host}:{port}/ in a browser "
          "(Ctrl+C stops it and deletes every upload and result)", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_keep_alive=5)
    uvicorn.Server(config).run(sockets=[sock])
    return 0
