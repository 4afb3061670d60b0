import sys
from pathlib import Path

from hypothesis import settings

# Lets tests import small shared helpers (grading_helpers, notebook_files) by name.
sys.path.insert(0, str(Path(__file__).parent))

# Property tests: no per-example deadline (a loaded 2-core CI machine is slow) and a fixed seed
# sequence, so a CI run is reproducible.
settings.register_profile("course", deadline=None, derandomize=True)
settings.load_profile("course")
