import sys

from roadguard.cli import main

sys.exit(main())
