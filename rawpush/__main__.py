import sys

from rawpush.cli import main

sys.exit(main())
