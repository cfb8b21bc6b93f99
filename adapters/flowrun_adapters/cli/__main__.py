"""``python -m flowrun_adapters.cli``: the ``flowrun`` command."""

from flowrun_adapters.cli import main

main()
