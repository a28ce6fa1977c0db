"""``python -m posecli`` runs the command line."""

from posecli.cli import main

if __name__ == "__main__":
    main()
