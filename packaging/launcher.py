"""The frozen program's entry point (build.spec): the same CLI as ``avtoprokat-mail``."""

import sys

from avtoprokat_mail.cli import main

if __name__ == "__main__":
    sys.exit(main())
