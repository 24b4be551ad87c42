"""``python -m dockerhub_export`` is the same as the ``dockerhub-export`` command."""

from .cli import main

main()
