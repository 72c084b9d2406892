import sys

from facebehavior.cli.main import main

sys.exit(main())
