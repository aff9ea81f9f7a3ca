import sys

from genen_scale.report.cli import main

sys.exit(main())
