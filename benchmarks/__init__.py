"""GenLab's benchmarks: each script prints one JSON object (see README, "Benchmarks").

In-process engine timings run torch as the app does: app.py shortens OpenMP's spin-wait
(GOMP_SPINCOUNT) before torch loads, so this package does the same (a value already set wins).
"""

import os

os.environ.setdefault("GOMP_SPINCOUNT", "10000")
