import sys

from genen_scale.sweep.cli import main

sys.exit(main())
