import sys

from gitmv.hooks.entry import main

sys.exit(main())
