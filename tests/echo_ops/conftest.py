import sys
from pathlib import Path

# eventkit (the hand-driven test editor) lives beside these tests.
sys.path.insert(0, str(Path(__file__).parent))
