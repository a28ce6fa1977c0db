from posecli.cli.app import main

__all__ = ["main"]
