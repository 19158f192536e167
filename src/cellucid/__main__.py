import sys

from cellucid.cli import main

sys.exit(main())
