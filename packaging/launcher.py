"""The frozen program's entry point (build.spec): the same CLI as ``avtoprokat-mail``.

Nothing may escape as an exception: PyInstaller's windowed bootloader would show an error
box, and a job of the Task Scheduler would wait on it for ever. What the command line does
not handle itself is logged, said on stderr and ends with exit status 2.
"""

import sys


def _main() -> int:
    try:
        from avtoprokat_mail.cli import main

        return main()
    except SystemExit:
        raise
    except BaseException:
        import logging
        import traceback

        logging.getLogger("avtoprokat_mail").critical("launcher", exc_info=True)
        if sys.stderr is not None:
            traceback.print_exc()
        return 2


if __name__ == "__main__":
    sys.exit(_main())
