import sys

from echo_ops.cli import main

sys.exit(main())
