import gc
import sys

# A hook run is a short process, like a CLI command (gitmv.cli.main): no cyclic collection while
# it runs, none over every object at exit. The check itself is unchanged.
gc.disable()

from gitmv.hooks.entry import main  # noqa: E402

code = main()
gc.freeze()
sys.exit(code)
