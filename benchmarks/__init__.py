"""Side-by-side benchmarks of flowrun-core: ``python -m benchmarks --help``.

Every claim is a ratio measured in one run on one machine: each flowrun figure is timed in
the same interleaved rounds as its floor (what a create cannot avoid in plain Python or raw
``sqlite3``) and, with ``--vs-prefect``, as Prefect 3.9.1's own API app in a subprocess.
See ``../shared/PERFORMANCE.md`` (the project's anchors) for the method.
"""
