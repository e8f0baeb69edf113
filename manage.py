#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recommender.settings")
    from django.core.management import execute_from_command_line

    from recommender.local_dirs import create_local_dirs

    create_local_dirs()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
