"""`python -m avtoprokat_mail` starts the program exactly as the console script does."""

import sys

from avtoprokat_mail.cli import main

sys.exit(main())
