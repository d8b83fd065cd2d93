"""``python -m cevns``: the same as the ``cevns`` command."""

from .cli import main

if __name__ == "__main__":
    main()
