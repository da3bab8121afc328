import sys

from echo_ops.cli import main

if __name__ == "__main__":  # Airflow's plugin scan may import this file too
    sys.exit(main())
