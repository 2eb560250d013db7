import gc
import sys

# A hook run is a short process, like a CLI command (gitmv.cli.main): no cyclic collection while
# it runs, none over every object at exit. The check itself is unchanged.
gc.disable()

import gitmv.git

gitmv.git.LIBGIT2_TLS_UNUSED = True  # the hook reaches no remote: pygit2 loads no CA bundle

from gitmv.hooks.entry import main

code = main()
gc.freeze()
sys.exit(code)
